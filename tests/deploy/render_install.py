"""Regenerate manifests/install.yaml from the chart: ``python -m tests.deploy.render_install``."""

from __future__ import annotations

from tests.deploy.chart import INSTALL_YAML, Helm, build_helm


def main() -> None:
    INSTALL_YAML.write_text(Helm(build_helm()).install_yaml())
    print(f"wrote {INSTALL_YAML}")


if __name__ == "__main__":
    main()
