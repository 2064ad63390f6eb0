"""The library is silent unless asked, and asked once prints each line once."""

from __future__ import annotations

import logging

from textcnn.reporting import logger, verbose_logging


def test_silent_without_a_handler_and_printed_with_verbose(capsys, monkeypatch):
    monkeypatch.setattr(logging.root, "handlers", [])  # an application that set up no logging
    logger.warning("a skipped row")
    with verbose_logging(True):
        logger.info("epoch 1")

    assert capsys.readouterr().err == "epoch 1\n"


def test_verbose_prints_nothing_twice_when_the_application_configured_logging(capsys, monkeypatch):
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    monkeypatch.setattr(logging.root, "handlers", [Collect()])
    previous = logging.root.level
    logging.root.setLevel(logging.INFO)
    try:
        with verbose_logging(True):
            logger.info("epoch 1")
    finally:
        logging.root.setLevel(previous)

    assert records == ["epoch 1"] and capsys.readouterr().err == ""
