"""``python -m textcnn`` runs the CLI."""

from textcnn.cli import app

if __name__ == "__main__":
    app(prog_name="textcnn")
