"""``python -m textcnn`` runs the CLI."""

from textcnn.cli import app

app(prog_name="textcnn")
