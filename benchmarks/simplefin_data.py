"""The loopback SimpleFIN fake the benchmark serves, with its answers encoded before the timed sync starts."""

from __future__ import annotations

from datetime import date

from providers.simplefin import SimpleFINProvider, _chunks
from tests.fakes.simplefin import SimpleFINFake


class PreparedSimpleFINFake(SimpleFINFake):
    """A SimpleFIN fake that builds the window's /accounts answers ahead (`prepare`), not while the sync waits.

    A real server builds its answers on its own machines; the plain fake would
    build them (filter every row for each 60-day chunk, then json.dumps) on the
    same CPUs as the sync under test, inside the timed section. `prepare`
    encodes the answers to the window's chunk requests once the data is in
    place; any other request is answered live. Every byte still goes over HTTP
    and is parsed and mapped by the client.
    """

    def __init__(self, *, window: tuple[date, date], **kwargs) -> None:
        super().__init__(**kwargs)
        self.window = window
        self._prepared: dict[tuple, tuple] = {}

    def prepare(self) -> None:
        """(Re)build the answers; call it after every change to the data."""
        self._prepared.clear()
        for chunk in _chunks(*self.window):
            query = tuple(SimpleFINProvider._chunk_params(chunk, None))
            self._prepared[query] = super()._accounts(list(query))

    def _accounts(self, query):
        return self._prepared.get(tuple(query)) or super()._accounts(query)
