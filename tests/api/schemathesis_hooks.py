"""Schemathesis hooks for test_schemathesis (loaded through SCHEMATHESIS_HOOKS).

Schemathesis reuses ids it reads in answers (``GET /api/v1/tokens`` lists the fuzzer's own
token), so left alone it soon revokes the token it is signing with, or deactivates its own
account, and every later case is a 401 that tests nothing. Writes aimed at the fuzzer's
own rows are pointed at an id that does not exist instead.
"""

from __future__ import annotations

from typing import Any

import schemathesis

# The fuzzer's account and token ids (test_schemathesis starts both sequences here).
FUZZER_ID = 70_001
NOWHERE = 999_999_999


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: Any) -> None:
    if case.method.upper() == "GET" or not case.path_parameters:
        return
    for name, value in case.path_parameters.items():
        if str(value) == str(FUZZER_ID):
            case.path_parameters[name] = NOWHERE
