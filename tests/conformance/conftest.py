"""The ``zmq`` implementation of the contract suite: one ``tellerhal sim`` process per
module, started only when the module's selected tests use it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import sim_process


def _implementation(item: pytest.Item) -> object:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("implementation") if callspec is not None else None


@pytest.fixture(scope="module", autouse=True)
def _zmq_sim(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The sim process behind the ``zmq`` harness (SIGTERM-stopped after the module)."""
    module = request.module
    if not any(
        item.module is module and _implementation(item) == "zmq"  # type: ignore[attr-defined]
        for item in request.session.items
    ):
        yield
        return
    proc = sim_process.sim(tmp_path_factory.mktemp("zmq-sim"))
    with proc:
        sim_process.shared = proc
        try:
            yield
        finally:
            sim_process.shared = None
            assert proc.stop() == 0, proc.err
