"""The fit loop and what it needs: seeding, devices, optimizers, batched inference (no file formats)."""
