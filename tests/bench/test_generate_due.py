"""The benchmarks' case file can hold rungs due for the sweep (`Shape.due`): the follow-up
sweep benchmark measures the sweep over exactly that many, and a second sweep has none."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from bench.generate import NOW, Shape, generate
from config.db import engine_for, migrate
from models import followup


def test_due_rungs_are_what_the_sweep_handles(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'case.db'}"
    migrate(url)
    engine = engine_for(url)
    generate(engine, Shape(items=400, due=12), show_progress=False)
    with Session(engine) as session:
        first = followup.sweep(session, now=NOW)
        session.commit()
        again = followup.sweep(session, now=NOW)
    assert first["chased"] + first["nothing_to_do"] == 12
    assert first["chased"] and first["messages"] >= first["chased"]
    assert again["chased"] == again["nothing_to_do"] == 0
    engine.dispose()
