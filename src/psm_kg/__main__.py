"""``python -m psm_kg``: the same command as ``psm-kg``."""

from psm_kg.cli import main

if __name__ == "__main__":
    main(prog_name="psm-kg")
