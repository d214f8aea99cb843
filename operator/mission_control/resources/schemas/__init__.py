"""The OpenAPI v3 schemas of the CRDs, one module per resource, built from small parts.

:mod:`.patterns` holds the names, patterns and limits the schemas and the typed models share;
:mod:`.parts` the builders; :mod:`mission_control.resources.crds` assembles the CRD objects.
Pure data, no I/O.
"""
