"""Index a function app as the Azure Functions Python worker does, in this (fresh) interpreter; print JSON.

Run as `python -I tests/support/worker_gates.py FUNCTION_APP_DIRECTORY` with the app's settings in the
environment; it imports nothing of the test suite.  The steps are the worker's (4.x for Python
3.9-3.12, and azure-functions-runtime for 3.13+), with the gates taken from the libraries it uses:

1. WorkerInitRequest: `import azure.functions` (the binding registry), then, with
   PYTHON_ENABLE_INIT_INDEXING true, index at once: the function app directory goes on `sys.path`,
   `function_app` is imported by name, and its one `FunctionRegister` gives `get_functions()`.
2. For each function, the binding annotations are checked.  HTTP streaming is on when
   `azurefunctions.extensions.base.HttpV2FeatureChecker.http_v2_enabled()` (an extension module
   was imported); then the trigger parameter must pass `RequestTrackerMeta.check_type` and the
   return annotation `ResponseTrackerMeta.check_type`.  Off, `azure.functions`' own HttpRequest /
   HttpResponse converters check them instead (they refuse Starlette's types: "FunctionLoadError").
   Any other binding (the reconciliation's timer) is checked by its converter in the binding registry
   (`registry.get("timerTrigger").check_input_type_annotation`, TimerRequestConverter: a timer parameter
   annotated with anything but `func.TimerRequest` fails), after the worker's `validate_function_params`:
   the Python parameters and the bindings' names must be the same set.  A function with no `$return`
   binding must return None (the worker refuses any other value when it runs; here, its annotation).
3. Only when streaming is on and init indexing ran does the worker start its HTTP proxy server and
   report the `HttpUri` capability to the host: without it the host never forwards the raw request.

The JSON holds each function's gates and, as the host receives it, the metadata of every function
(name, raw bindings) or, when a gate refuses one function, the worker's load error and no function
at all: the worker fails the whole FunctionsMetadataRequest, and the host serves 404 on every route.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import typing
from typing import Any

TRUE_LIKE = {"1", "true", "t", "yes", "y"}  # the worker's is_true_like
SCRIPT_FILE_NAME = "function_app.py"


def init_indexing_enabled() -> bool:
    return os.environ.get("PYTHON_ENABLE_INIT_INDEXING", "").lower().strip() in TRUE_LIKE


def index(app_directory: str) -> dict[str, Any]:
    import azure.functions as func

    registry = func.get_binding_registry()
    sys.path.insert(0, app_directory)
    module = importlib.import_module(os.path.splitext(SCRIPT_FILE_NAME)[0])
    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
    if len(apps) != 1:
        return {"error": f"{len(apps)} top-level function app instances in {SCRIPT_FILE_NAME}"}
    functions = apps[0].get_functions()

    import azurefunctions.extensions.base as ext_base

    streaming = bool(ext_base.HttpV2FeatureChecker.http_v2_enabled())
    checked = []
    load_error = None
    for function in functions:
        user_function = function.get_user_function()
        hints = typing.get_type_hints(user_function)
        gates: dict[str, bool] = {}
        for binding in function.get_bindings():
            if binding.type == "httpTrigger":
                pytype = hints.get(binding.name)
                gates[binding.name] = (
                    ext_base.RequestTrackerMeta.check_type(pytype)
                    if streaming
                    else registry.get("httpTrigger").check_input_type_annotation(pytype)
                )
            elif binding.type == "http" and binding.name == "$return":
                pytype = hints.get("return")
                gates["$return"] = (
                    ext_base.ResponseTrackerMeta.check_type(pytype)
                    if streaming
                    else registry.get("http").check_output_type_annotation(pytype)
                )
            elif binding.type != "http":
                pytype = hints.get(binding.name)
                gates[binding.name] = pytype is None or registry.get(binding.type).check_input_type_annotation(pytype)
        names = {binding.name for binding in function.get_bindings() if binding.name != "$return"}
        gates["parameters"] = set(inspect.signature(user_function).parameters) == names
        if not any(binding.name == "$return" for binding in function.get_bindings()):
            gates["returns None"] = hints.get("return", type(None)) is type(None)
        refused = [name for name, ok in gates.items() if not ok]
        if refused and load_error is None:
            load_error = (
                f"cannot load the {function.get_function_name()} function: the worker refuses the annotations of {refused}"
            )
        checked.append(
            {
                "name": function.get_function_name(),
                "script_file": function.function_script_file,
                "raw_bindings": [json.loads(raw) for raw in function.get_raw_bindings()],
                "annotations": {name: f"{hint.__module__}.{hint.__qualname__}" for name, hint in hints.items()},
                "gates": gates,
            }
        )
    return {
        "init_indexing": init_indexing_enabled(),
        "http_v2_enabled": streaming,
        "web_extension": ext_base.ModuleTrackerMeta.get_module(),
        "request_type": repr(ext_base.RequestTrackerMeta.get_request_type()),
        "functions": checked,
        "load_error": load_error,
        "host_receives": [] if load_error else checked,
    }


if __name__ == "__main__":
    print(json.dumps(index(sys.argv[1])))
