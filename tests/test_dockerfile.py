import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _hadolint() -> str:
    return shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


def test_dockerfile_passes_hadolint():
    result = subprocess.run(
        [_hadolint(), "--config", str(ROOT / ".hadolint.yaml"), str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_healthcheck_and_cuda_option():
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001:10001" in text  # the nl2sql user, numeric so hosts can resolve it
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'ENTRYPOINT ["nl2sql"]' in text and 'CMD ["serve"]' in text and "NL2SQL_HOST=0.0.0.0" in text
    assert "ARG BASE_IMAGE=python:3.11-slim" in text and "-DGGML_CUDA=on" in text


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && pip install x\n")
    result = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
