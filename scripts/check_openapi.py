#!/usr/bin/env python3
"""Checks that schema/openapi.yaml is a valid OpenAPI 3.1 document and true to the router.

1. Validates the file with openapi-spec-validator (OpenAPI 3.1 rules).
2. Compares the set of (METHOD, /path) operations in the spec with the routes
   registered in `makeRouter()` of Sources/Gateway/HTTP/GatewayApplication+Routing.swift
   (`router.add("METHOD", "/path", ...)` calls); any difference is an error.
3. Checks the headers the contract promises: `X-Request-ID` on every response,
   `Retry-After` on every 202/429/503, `WWW-Authenticate` on every 401, and
   every example validates against its schema.

Exits 0 when all holds, 1 with a message per problem otherwise (2 when the
checker itself cannot run). When openapi-spec-validator or PyYAML is missing it
installs them with `python3 -m pip install --target .local/pylib` and uses that.

Usage: python3 scripts/check_openapi.py [--spec PATH] [--router PATH]
"""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYLIB = ROOT / ".local" / "pylib"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def load_dependencies():
    """Imports yaml and openapi_spec_validator, installing them into .local/pylib if needed."""

    def attempt():
        importlib.invalidate_caches()
        yaml = importlib.import_module("yaml")
        osv = importlib.import_module("openapi_spec_validator")
        return yaml, osv

    try:
        return attempt()
    except ImportError:
        pass
    if PYLIB.is_dir() and str(PYLIB) not in sys.path:
        sys.path.insert(0, str(PYLIB))
        try:
            return attempt()
        except ImportError:
            pass
    print(f"openapi-spec-validator or PyYAML missing; installing into {PYLIB.relative_to(ROOT)} ...", file=sys.stderr)
    PYLIB.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(PYLIB), "openapi-spec-validator", "pyyaml"],
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"check_openapi: could not install openapi-spec-validator and pyyaml (pip exit {result.returncode})")
    if str(PYLIB) not in sys.path:
        sys.path.insert(0, str(PYLIB))
    for name in list(sys.modules):
        if name.split(".")[0] in ("yaml", "openapi_spec_validator", "jsonschema", "jsonschema_path"):
            del sys.modules[name]
    try:
        return attempt()
    except ImportError as error:
        sys.exit(f"check_openapi: openapi-spec-validator still not importable after installing it: {error}")


def router_routes(source_path: Path) -> set[tuple[str, str]]:
    """The (METHOD, /path) pairs registered in makeRouter()."""
    try:
        source = source_path.read_text(encoding="utf-8")
    except OSError as error:
        sys.exit(f"check_openapi: cannot read {source_path}: {error}")
    start = source.find("func makeRouter()")
    if start < 0:
        sys.exit(f"check_openapi: no `func makeRouter()` in {source_path}")
    open_brace = source.find("{", start)
    depth, index = 0, open_brace
    while index < len(source):
        if source[index] == "{":
            depth += 1
        elif source[index] == "}":
            depth -= 1
            if depth == 0:
                break
        index += 1
    body = source[open_brace:index + 1]

    calls = len(re.findall(r"\brouter\.add\(", body))
    routes = re.findall(r'\brouter\.add\(\s*"([A-Za-z]+)"\s*,\s*"([^"]*)"', body)
    if calls != len(routes):
        sys.exit(
            f"check_openapi: makeRouter() has {calls} router.add( calls but only {len(routes)} with a literal "
            'method and path (router.add("METHOD", "/path", ...)); this checker cannot read the others'
        )
    pairs = [(method.upper(), path) for method, path in routes]
    duplicates = {pair for pair in pairs if pairs.count(pair) > 1}
    if duplicates:
        sys.exit(f"check_openapi: makeRouter() registers {sorted(duplicates)} more than once")
    return set(pairs)


def spec_operations(spec: dict) -> set[tuple[str, str]]:
    operations = set()
    for path, item in (spec.get("paths") or {}).items():
        for method in HTTP_METHODS:
            if isinstance(item, dict) and method in item:
                operations.add((method.upper(), path))
    return operations


def resolve(spec: dict, node):
    """Follows local $refs (#/a/b/c) until a non-reference node."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            return node
        seen.add(ref)
        target = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def contract_problems(spec: dict) -> list[str]:
    """Headers and examples the contract promises, checked on every documented response."""
    import jsonschema  # a dependency of openapi-spec-validator

    problems = []
    components = spec.get("components", {})

    def check_example(where: str, schema: dict, value) -> None:
        wrapper = dict(schema)
        wrapper.setdefault("components", components)
        validator = jsonschema.Draft202012Validator(wrapper)
        for error in validator.iter_errors(value):
            location = " > ".join(str(p) for p in error.absolute_path) or "(root)"
            problems.append(f"{where}: example does not match its schema at {location}: {error.message}")

    def check_content(where: str, content: dict) -> None:
        for media_type, media in (content or {}).items():
            schema = media.get("schema")
            if schema is None:
                continue
            if "example" in media:
                check_example(f"{where} {media_type}", schema, media["example"])
            for name, example in (media.get("examples") or {}).items():
                example = resolve(spec, example)
                if "value" in example:
                    check_example(f"{where} {media_type} example '{name}'", schema, example["value"])

    for path, item in (spec.get("paths") or {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            if operation is None:
                continue
            name = f"{method.upper()} {path}"
            body = resolve(spec, operation.get("requestBody"))
            if isinstance(body, dict):
                check_content(f"{name} request body", body.get("content"))
            for status, response in (operation.get("responses") or {}).items():
                response = resolve(spec, response)
                headers = {key.lower() for key in (response.get("headers") or {})}
                where = f"{name} -> {status}"
                if "x-request-id" not in headers:
                    problems.append(f"{where}: response lacks the X-Request-ID header")
                if str(status) in ("202", "429", "503") and "retry-after" not in headers:
                    problems.append(f"{where}: response lacks the Retry-After header")
                if str(status) == "401" and "www-authenticate" not in headers:
                    problems.append(f"{where}: response lacks the WWW-Authenticate header")
                check_content(where, response.get("content"))
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "schema" / "openapi.yaml")
    parser.add_argument("--router", type=Path, default=ROOT / "Sources" / "Gateway" / "HTTP" / "GatewayApplication+Routing.swift")
    args = parser.parse_args()

    yaml, osv = load_dependencies()
    try:
        spec = yaml.safe_load(args.spec.read_text(encoding="utf-8"))
    except OSError as error:
        print(f"check_openapi: cannot read {args.spec}: {error}", file=sys.stderr)
        return 1
    except yaml.YAMLError as error:
        print(f"check_openapi: {args.spec} is not valid YAML: {error}", file=sys.stderr)
        return 1
    if not isinstance(spec, dict):
        print(f"check_openapi: {args.spec} is not a YAML mapping", file=sys.stderr)
        return 1

    failures: list[str] = []
    version = str(spec.get("openapi", ""))
    if not version.startswith("3.1."):
        failures.append(f"openapi is '{version}'; CONTRACT.md asks for OpenAPI 3.1")

    # 1. The OpenAPI 3.1 rules.
    from jsonschema_path import SchemaPath

    validator = osv.OpenAPIV31SpecValidator(SchemaPath.from_dict(spec, base_uri=args.spec.resolve().as_uri()))
    for error in validator.iter_errors():
        location = " > ".join(str(p) for p in getattr(error, "absolute_path", []) or []) or "(root)"
        failures.append(f"invalid OpenAPI 3.1 at {location}: {getattr(error, 'message', error)}")

    # 2. The spec's operations are exactly the router's.
    routes = router_routes(args.router)
    documented = spec_operations(spec)
    for method, path in sorted(routes - documented, key=lambda r: (r[1], r[0])):
        failures.append(f"route {method} {path} is registered in makeRouter() but missing from the spec")
    for method, path in sorted(documented - routes, key=lambda r: (r[1], r[0])):
        failures.append(f"{method} {path} is in the spec but not registered in makeRouter()")

    # 3. Contract headers and examples.
    failures += contract_problems(spec)

    spec_name = args.spec.relative_to(ROOT) if args.spec.resolve().is_relative_to(ROOT) else args.spec
    if failures:
        print(f"check_openapi: {spec_name}: {len(failures)} problem(s):", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print(f"check_openapi: {spec_name} is valid OpenAPI {version} (openapi-spec-validator {osv.__version__})")
    print(f"check_openapi: its {len(documented)} operations match makeRouter():")
    for method, path in sorted(documented, key=lambda r: (r[1], r[0])):
        print(f"  {method:6} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
