"""dcsim report: one self-contained HTML page per result folder."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import assert_bad_input, invoke, ok, scenario_dict

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("report")
    data = scenario_dict(mtbf_h=12.0, nodes=8, work="3 d")
    data["description"] = "A <b>tiny</b> site & its <script>alert(1)</script> test"
    data["sources"] = ["Daly (2006): a higher-order estimate of the optimum checkpoint interval"]
    (d / "s.yaml").write_text(yaml.safe_dump(data))
    ok(invoke("run", d / "s.yaml", "-r", 3, "-o", d / "out"))
    return d / "out"


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_the_page_holds_every_figure_the_numbers_and_the_provenance(run_dir: Path) -> None:
    res = ok(invoke("report", run_dir))
    page = run_dir / "report.html"
    assert f"wrote {page}" in res.stdout
    html = page.read_text()
    images = _images(html)
    assert len(images) == len(list(run_dir.glob("*.png"))) >= 3
    assert all(img.startswith(PNG) for img in images)
    summary = json.loads((run_dir / "summary.json").read_text())
    ettr = summary["ettr"]["mean"]
    row = re.search(r'data-metric="ettr"><td>[^<]*</td><td>([^<]+)</td>', html)
    assert row is not None and float(row.group(1).replace(",", "")) == pytest.approx(ettr,
                                                                                 rel=1e-3)
    for w in summary["warnings"]:
        assert w["code"] in html
    assert 'id="by-cause"' in html and "node_fault" in html
    assert f"<td>seed</td><td>{summary['seed']}</td>" in html
    assert "job:" in html and "checkpoint:" in html  # the resolved scenario
    assert "Daly (2006)" in html
    # scenario text is escaped, never markup
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_sweeps_and_comparisons_get_a_page(tmp_path: Path, run_dir: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario_dict(mtbf_h=12.0, nodes=8, work="2 d")))
    ok(invoke("compare", path, "--variant", "slow: job.restart.time=30 min", "-r", 2, "-o",
              tmp_path / "cmp"))
    ok(invoke("report", tmp_path / "cmp", "-o", tmp_path / "cmp.html"))
    html = (tmp_path / "cmp.html").read_text()
    assert "t vs slow" in html and len(_images(html)) == 1
    ok(invoke("sweep", path, "--param", "job.restart.time", "--values", "5 min,30 min", "-r", 2,
              "-o", tmp_path / "sw"))
    ok(invoke("report", tmp_path / "sw"))
    assert "job.restart.time_s" in (tmp_path / "sw" / "report.html").read_text()
    assert_bad_input(invoke("report", tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    assert_bad_input(invoke("report", tmp_path / "empty"))


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.skipif(_browser() is None, reason="no headless Chromium on this machine")
def test_the_page_renders_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    """Every image decodes in a real browser (naturalWidth > 0), the headline number is on
    the page, and a screenshot is taken."""
    browser = _browser()
    assert browser is not None
    ok(invoke("report", run_dir))
    html = (run_dir / "report.html").read_text()
    probe = ("<script>window.addEventListener('load', () => {"
             "const w = [...document.images].map(i => i.naturalWidth);"
             "document.body.setAttribute('data-widths', w.join(','));});</script></body>")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    widths = re.search(r'data-widths="([^"]*)"', dom)
    assert widths is not None
    values = [int(w) for w in widths.group(1).split(",")]
    assert len(values) == len(_images(html)) and all(w > 0 for w in values)
    ettr = json.loads((run_dir / "summary.json").read_text())["ettr"]["mean"]
    assert f"{ettr:,.4g}" in dom
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1280,2000",
                    (run_dir / "report.html").as_uri()], capture_output=True, timeout=120,
                   check=True)
    assert shot.read_bytes().startswith(PNG)
