"""What a refused command must look like to a user, and what it must leave alone."""

from __future__ import annotations

from pathlib import Path


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder): to compare before/after."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*"))}


def assert_refused(result, *words: str) -> str:
    """Exit 2, exactly one line on stderr naming ``words``, no traceback anywhere."""
    stderr = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.output, stderr)
    assert "Traceback" not in result.output + stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]
