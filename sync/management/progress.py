"""The CLI's progress display: the service layer's ProgressEvents as tqdm bars on a terminal."""

from __future__ import annotations

from typing import IO

from tqdm import tqdm

from sync.progress import ProgressEvent


class ProgressBars:
    """A progress callback (`sync_connection(progress=...)`) that draws one bar per sync on `stream`.

    While fetching, the bar counts rows fetched (the total is not known yet); while
    applying, rows applied out of rows fetched. Pages and both counts follow the
    bar, with tqdm's elapsed time and rate. Bars vanish when their sync is done, so
    the result lines stay as they are. Give it only a terminal: scripts get no bars.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.bar: tqdm | None = None
        self.key: tuple | None = None
        self.stage = ""
        self.label = ""

    def __call__(self, event: ProgressEvent) -> None:
        key = (event.connection_id, event.kind, event.account_id)
        if key != self.key or self.bar is None:
            self.close()
            self.key, self.stage = key, ""
            self.label = event.kind + (f" [{str(event.account_id)[:8]}]" if event.kind == "holdings" else "")
            self.bar = tqdm(desc=self.label, unit=" rows", file=self.stream, leave=False, dynamic_ncols=True)
        bar = self.bar
        done = event.rows_fetched if event.stage == "fetch" else event.rows_applied
        new_stage = event.stage != self.stage or done < bar.n  # a new stage, or a restart: count again
        if new_stage:
            self.stage = event.stage
            bar.set_description_str(
                f"{self.label} {'applying' if event.stage == 'apply' else 'fetching'}", refresh=False
            )
            bar.reset(total=event.rows_fetched if event.stage == "apply" else None)
        bar.set_postfix_str(
            f"pages={event.pages}, fetched={event.rows_fetched:,}, applied={event.rows_applied:,}", refresh=False
        )
        bar.update(done - bar.n)  # drawn at most every tenth of a second (tqdm's mininterval)
        if new_stage:
            bar.refresh()

    def close(self) -> None:
        """Take the current bar off the screen (call when a connection's syncs are done, and at the end)."""
        if self.bar is not None:
            self.bar.close()
        self.bar, self.key = None, None
