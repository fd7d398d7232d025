from __future__ import annotations

import asyncio
import os
from pathlib import Path

from steering.reload import Reloader


async def test_changes_are_loaded_and_bad_files_keep_the_old_result(tmp_path: Path) -> None:
    f = tmp_path / "topology"
    f.write_text("1")
    applied: list[int] = []
    failed: list[str] = []
    reloader = Reloader([str(f), ""], lambda: int(f.read_text()), applied.append,
                        failed.append, check_s=0.05)
    watch = asyncio.get_running_loop().create_task(reloader.watch())
    try:
        await asyncio.sleep(0.15)
        assert applied == []
        f.write_text("2")
        await asyncio.sleep(0.2)
        assert applied == [2]
        f.write_text("oops")
        await asyncio.sleep(0.2)
        assert applied == [2] and len(failed) == 1 and "oops" in failed[0]
        await asyncio.sleep(0.2)
        assert len(failed) == 1
        tmp = tmp_path / "new"
        tmp.write_text("3")
        os.replace(tmp, f)
        await asyncio.sleep(0.2)
        assert applied == [2, 3]
        assert await reloader.reload("SIGHUP")
        assert applied == [2, 3, 3]
    finally:
        watch.cancel()


async def test_no_watching_when_the_interval_is_zero(tmp_path: Path) -> None:
    reloader = Reloader([str(tmp_path / "x")], lambda: 1, lambda _: None, lambda _: None, 0)
    await asyncio.wait_for(reloader.watch(), 1)
