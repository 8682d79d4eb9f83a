"""AMWA's published NMOS JSON schemas (draft-04) as validators, with their
$refs between files resolved from the local copies (no network). Works
with Debian 12's python3-jsonschema (4.10, RefResolver) and later ones.

    from nmos_schema import Schemas
    s = Schemas("/work/shared/interop/nmos")
    s.check("is-04", "node.json", obj)        # raises SchemaError
    s.errors("is-05", "receiver-response-schema.json", obj)  # list of str
"""
import json
import os
import warnings

import jsonschema

DIRS = {
    "is-04": "is-04-v1.3.2/APIs/schemas",
    "is-05": "is-05-v1.1.2/APIs/schemas",
}


class SchemaError(Exception):
    pass


class Schemas:
    def __init__(self, root):
        self.root = root
        self._validators = {}

    def _validator(self, spec, name):
        key = (spec, name)
        if key in self._validators:
            return self._validators[key]
        folder = os.path.join(self.root, DIRS[spec])
        path = os.path.join(folder, name)
        with open(path) as f:
            schema = json.load(f)
        cls = jsonschema.Draft4Validator
        # "format" is checked too (uri, ipv4, hostname...), as a
        # registry's validation stage would.
        fmt = jsonschema.FormatChecker()
        if "uri" not in fmt.checkers:
            raise SchemaError("jsonschema cannot check 'uri' formats: "
                              "install python3-rfc3987 (scripts/setup)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            resolver = jsonschema.RefResolver(
                base_uri="file://" + folder + "/", referrer=schema,
                handlers={"file": _load_file})
            v = cls(schema, resolver=resolver, format_checker=fmt)
        self._validators[key] = v
        return v

    def errors(self, spec, name, obj):
        """Every way @obj fails schema @name of @spec, as text."""
        v = self._validator(spec, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            out = []
            for e in v.iter_errors(obj):
                where = "/".join(str(p) for p in e.absolute_path)
                out.append("%s: %s" % (where or "(top)", e.message))
                for sub in (e.context or [])[:6]:
                    w = "/".join(str(p) for p in sub.absolute_path)
                    out.append("    %s: %s" % (w or "(top)", sub.message))
            return out

    def check(self, spec, name, obj):
        errs = self.errors(spec, name, obj)
        if errs:
            raise SchemaError("%s %s:\n  %s\n  in %s" % (
                spec, name, "\n  ".join(errs[:20]),
                json.dumps(obj)[:1500]))


def _load_file(uri):
    with open(uri[len("file://"):]) as f:
        return json.load(f)
