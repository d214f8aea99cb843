"""Names, patterns and limits the CRD schemas and the typed models share.

The patterns are RE2 (what the API server evaluates) written so Python's ``re`` agrees.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACTIONS",
    "APP_GLOB",
    "ARGS_DIGEST",
    "CONCURRENCY_POLICIES",
    "COST_TOTAL",
    "CRON",
    "DECIMAL_USD",
    "DNS_LABEL",
    "DNS_SUBDOMAIN",
    "FINGERPRINT_LABEL",
    "GROUP",
    "IMMUTABLE_RUN_FIELDS",
    "LABEL_KEY",
    "LABEL_VALUE",
    "MATCHER_OPERATORS",
    "MAX_GROUPS",
    "MAX_REQUIRED_APPROVALS",
    "NAMESPACE_GLOB",
    "NO_SPACE",
    "PARAM_NAME",
    "REQUESTED_BY_ANNOTATION",
    "RISKS",
    "SECRET_KEY",
    "SELECTOR_OPERATORS",
    "TIME_ZONE",
    "TOOL_GLOB",
    "TOOL_NAME",
    "TRIGGER_LABEL",
    "USER_NAME_MAX",
    "VERSION",
    "Schema",
]

#: A JSON schema (or a piece of one), as plain data.
Schema = dict[str, Any]

GROUP = "missioncontrol.dev"
VERSION = "v1alpha1"

DECIMAL_USD = r"^[0-9]{1,6}(\.[0-9]{1,6})?$"
# Running totals are exact sums of per-token prices, so they carry more decimals than a limit.
COST_TOTAL = r"^[0-9]{1,12}(\.[0-9]{1,18})?$"
ARGS_DIGEST = r"^sha256:[0-9a-f]{64}$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
PARAM_NAME = r"^[A-Za-z_][A-Za-z0-9_-]*$"
TOOL_NAME = r"^[a-z][a-z0-9_]*$"
# Globs use only what a name they are meant to match can contain, plus * and ?: anything else
# (upper case, spaces, brackets) would make a rule or namespace entry that never matches.
TOOL_GLOB = r"^[a-z0-9_*?]+$"
NAMESPACE_GLOB = r"^[a-z0-9*?-]+$"
# Argo CD application names are DNS subdomains: '.' is allowed besides '-'.
APP_GLOB = r"^[a-z0-9*?.-]+$"
# Label keys and values as Kubernetes validates them: an optional DNS-subdomain prefix and '/'.
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"]
NO_SPACE = r"^[^\t\n\f\r ]+$"  # RE2's \s, spelled out so Python agrees
RISKS = ["READ_ONLY", "SAFE_MUTATE", "DESTRUCTIVE"]
#: Longest user name an approval or approver can carry: service-account user names
#: (system:serviceaccount:NAMESPACE:NAME) reach 339 characters, OIDC ones can be longer.
USER_NAME_MAX = 1024
#: Most groups an approval can carry (what the approving user's credentials attest).
MAX_GROUPS = 64
#: Largest quorum a ToolPolicy can ask for.
MAX_REQUIRED_APPROVALS = 5
#: Who created a TaskRun, stamped by the API server (admission policy in ``crds/``).
REQUESTED_BY_ANNOTATION = f"{GROUP}/requested-by"
#: Fields of a TaskRun's spec that say what the run does: fixed once it exists.
IMMUTABLE_RUN_FIELDS = ("taskRef", "taskSpec", "params", "model", "dryRun", "serviceAccountName")
ACTIONS = ["Allow", "Deny", "RequireApproval"]
#: Fallback models a model reference may name (the chain is bounded: status lists each).
MAX_FALLBACKS = 3

# -- TaskTrigger ---------------------------------------------------------------------------
#: A time zone name of the IANA database (e.g. Europe/Berlin, UTC); whether it exists is
#: checked by the operator (the Ready condition), which has the database.
TIME_ZONE = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"
#: A cron schedule, field by field: minute hour day-of-month month day-of-week, optionally
#: preceded by a seconds field; or one of the @ shortcuts. Numbers must be in range for their
#: field; what a regular expression cannot tell (e.g. 5-3) the operator reports in Ready.
_STEP = r"(/[0-9]{1,2})?"


def _cron_field(number: str, *, names: str = "", extra: str = "") -> str:
    value = f"({number}{names})"
    atom = rf"(\*|\?|{value}(-{value})?){_STEP}"
    if extra:
        atom = f"({atom}|{extra})"
    return f"{atom}(,{atom})*"


_SECOND = _cron_field("[0-5]?[0-9]")
_MINUTE = _SECOND
_HOUR = _cron_field("[01]?[0-9]|2[0-3]")
_DAY = _cron_field("0?[1-9]|[12][0-9]|3[01]", extra=r"L|LW|[0-9]{1,2}W")
_MONTH = _cron_field("0?[1-9]|1[0-2]", names="|[A-Za-z]{3}")
_WEEKDAY = _cron_field("[0-7]", names="|[A-Za-z]{3}", extra=r"[0-7]L|[0-7]#[1-5]|L")
CRON = (
    rf"^(({_SECOND}) )?{_MINUTE} {_HOUR} {_DAY} {_MONTH} {_WEEKDAY}$"
    r"|^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$"
)
CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"]
MATCHER_OPERATORS = ["=", "!=", "=~", "!~"]
TRIGGER_LABEL = f"{GROUP}/trigger"
FINGERPRINT_LABEL = f"{GROUP}/alert-fingerprint"
