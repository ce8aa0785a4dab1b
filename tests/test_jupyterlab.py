"""The ipywidgets explorers in a live JupyterLab, driven by a real browser.

A JupyterLab server (this environment's, with its python3 kernel) is started on 127.0.0.1 on a
free port with a random token, on temporary copies of chapters 2 and 4 (nothing is written back
to book/), and shut down with its kernels afterwards. Headless Chromium, driven by
Playwright, opens each chapter, clears the stored outputs, runs all cells from the Run menu,
and then moves a slider of the chapter's explorer (``explorer_2d`` in chapter 2,
``explorer_nd`` in chapter 4) twice: by dragging its handle with the mouse and by the arrow
key on the focused handle. Each move must change the decoded digit (an ``ipywidgets.Image``,
compared pixel by pixel in the page), the kernel must answer every move, and no
"Error displaying widget" may appear.

The chapters load their models from the test run's model cache (AE_CACHE_DIR, which the root
conftest.py points at a folder of the run's own, and which the server and its kernels
inherit): the module warms it first with the chapters' own ``trained_autoencoder`` calls (a
no-op when nbval ran chapters 2 and 4 earlier in the same run), so each chapter runs in
seconds (the module: about 40 s on 2 cores, plus the two models' training when the run has
not trained them yet). Without a browser the tests are skipped with one line why; under
``CI=true`` they fail instead.

JupyterLab 4's widget manager renders ipywidgets 8 models only: a kernel with ipywidgets 7
gets "Module @jupyter-widgets/controls, version ^1.5.0 is not registered". The 7.x side
(Colab's) is tested without a browser by ``make test-ipywidgets7``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTERS = ("02_latent2d.ipynb", "04_latent50.ipynb")

LOCAL_HOSTS = {"127.0.0.1", "localhost"}

SERVER_START_S = 90
RUN_ALL_S = 180        # one chapter, every cell, models from the cache (measured: 7 s and 19 s)
UPDATE_S = 15          # a slider move until the decoded digit has changed (measured: about 0.1 s)
SHUTDOWN_S = 20


# --- the browser -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab_browser(browser) -> Any:
    """The browser the other browser tests use (tests/conftest.py: skipped with one line, failed under CI)."""
    return browser


# --- the model cache ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def warm_cache() -> None:
    """The chapters' models in the run's cache, which the kernels will read (same AE_CACHE_DIR and threads).

    These are the chapters' own calls (chapter 2: latent 2 with its recipe, chapter 4: latent 50
    with the defaults). Were a chapter to change its recipe, its kernel would train the model
    itself: slower, still correct.
    """
    from ae_helpers import trained_autoencoder

    trained_autoencoder(2, epochs=10, batch_size=256, lr=0.005, seed=42, progress=False)
    trained_autoencoder(50, seed=42, progress=False)


# --- the JupyterLab server ---------------------------------------------------------------------

@dataclass
class Lab:
    url: str
    token: str
    folder: Path
    log: Path
    proc: subprocess.Popen = field(repr=False)

    def api(self, method: str, path: str, timeout: float = 10) -> Any:
        req = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        if method == "POST":
            req.data = b""
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 40) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-n:])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _stop(lab: Lab) -> None:
    """Shut the kernels and the server down; terminate, then kill, whatever does not stop in time."""
    if lab.proc.poll() is None:
        try:
            for kernel in lab.api("GET", "kernels"):
                lab.api("DELETE", f"kernels/{kernel['id']}", timeout=SHUTDOWN_S)
            lab.api("POST", "shutdown")
        except (OSError, ValueError):
            pass
        try:
            lab.proc.wait(timeout=SHUTDOWN_S)
        except subprocess.TimeoutExpired:
            lab.proc.terminate()
            try:
                lab.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # the server and what it started in its process group
                os.killpg(lab.proc.pid, signal.SIGKILL)
                lab.proc.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, warm_cache) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 with a token, serving copies of the chapters; stopped afterwards."""
    work = tmp_path_factory.mktemp("jupyterlab")
    folder = work / "book"
    folder.mkdir()
    for name in CHAPTERS:
        shutil.copy2(BOOK / name, folder / name)
    config = work / "config"
    settings = config / "lab" / "user-settings" / "@jupyterlab"
    # Every cell in the DOM, nothing saved, no news or update checks (no request leaves the machine).
    _write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
    _write_json(settings / "docmanager-extension" / "plugin.jupyterlab-settings", {"autosave": False})
    _write_json(settings / "apputils-extension" / "notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    _write_json(config / "jupyter_server_config.json",
                {"LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}})
    data = work / "data"  # JUPYTER_DATA_DIR: python3 is this environment's python, whatever else is installed
    _write_json(data / "kernels" / "python3" / "kernel.json",
                {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                 "display_name": "Python 3 (ipykernel)", "language": "python"})
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        # The kernel imports ae_helpers from this checkout and inherits AE_* and OMP_NUM_THREADS.
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        # Only these settings and this python3 kernel: no user-level configuration or kernel counts.
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(data),
        JUPYTER_PREFER_ENV_PATH="0",  # in a venv jupyter_core would put the environment's kernels first
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        IPYTHONDIR=str(work / "ipython"),
    )
    log = work / "server.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={folder}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers often run as root
        cmd.append("--allow-root")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = Lab(url=f"http://127.0.0.1:{port}", token=token, folder=folder, log=log, proc=proc)

    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                server.api("GET", "status", timeout=2)
                break
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n{server.log_tail()}")
                time.sleep(0.25)
        spec = server.api("GET", "kernelspecs")["kernelspecs"].get("python3", {}).get("spec", {})
        assert spec.get("argv", [None])[0] == sys.executable, f"the python3 kernel is not {sys.executable}: {spec}"
        yield server
    finally:
        _stop(server)
    assert proc.returncode is not None


# --- driving a notebook ------------------------------------------------------------------------

# The picture an <img> shows, as a PNG data URL. A widget image swaps its blob URL on every
# update, and a decode under way when that happens fails ("The source image cannot be decoded"),
# so a decode is retried until the source stays the same across it (at most 5 s). The canvas is
# drawn in the same task as the check, so the picture is the decoded one, never a half-loaded one.
PIXELS_JS = """async img => {
    let error = null;
    for (let i = 0; i < 50; i++) {
        const src = img.src;
        try {
            await img.decode();
            if (img.src === src && img.complete && img.naturalWidth > 0) {
                const c = document.createElement('canvas');
                c.width = img.naturalWidth; c.height = img.naturalHeight;
                c.getContext('2d').drawImage(img, 0, 0);
                return c.toDataURL('image/png');
            }
        } catch (e) { error = e; }
        await new Promise(r => setTimeout(r, 100));
    }
    throw new Error('the image never finished decoding in 5 s: ' + error);
}"""

# Every cell rendered and the status bar showing the python3 kernel ("Python 3 (ipykernel) | Idle").
READY_JS = """n => {
    const bar = document.querySelector('#jp-main-statusbar');
    return document.querySelectorAll('.jp-Notebook .jp-Cell').length === n && !!bar
        && /Python 3[^|]*\\|\\s*Idle/.test(bar.innerText);
}"""

PROMPTS_DONE_JS = """n => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
        .map(p => p.textContent.trim());
    const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
    return prompts.length === n && prompts.every(t => /^\\[\\d+\\]:$/.test(t))
        && (!status || status.dataset.status === 'idle');
}"""

PROMPTS_CLEAR_JS = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .every(p => !/\\d/.test(p.textContent)) && !document.querySelector('.jp-OutputArea-output')"""


@dataclass
class Notebook:
    page: Any
    cells: list[dict]
    console_errors: list[str]
    page_errors: list[str]

    def menu(self, menu: str, command: str) -> None:
        """Click a main-menu entry, e.g. Run > Run All Cells (``runmenu:run-all``)."""
        self.page.locator(".lm-MenuBar-item", has_text=menu).first.click()
        self.page.locator(f".lm-Menu-item[data-command='{command}']").click()

    def cell_index(self, needle: str) -> int:
        found = [i for i, c in enumerate(self.cells) if c["cell_type"] == "code" and needle in "".join(c["source"])]
        assert len(found) == 1, f"expected one code cell calling {needle!r}, found cells {found}"
        return found[0]

    def cell(self, index: int) -> Any:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)


def _open(context: Any, lab: Lab, name: str) -> Notebook:
    page = context.new_page()
    nb = Notebook(page=page, cells=json.loads((lab.folder / name).read_text())["cells"],
                  console_errors=[], page_errors=[])
    page.on("console", lambda m: nb.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: nb.page_errors.append(str(e)))
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}&reset")
    try:
        page.wait_for_function(READY_JS, arg=len(nb.cells), timeout=SERVER_START_S * 1000, polling=250)
    except Exception:
        status = page.locator("#jp-main-statusbar").inner_text() if page.locator("#jp-main-statusbar").count() else ""
        pytest.fail(f"{name}: no idle python3 kernel and all cells within {SERVER_START_S} s "
                    f"(status bar: {status!r})\n{lab.log_tail()}")
    dialogs = page.locator(".jp-Dialog")
    assert dialogs.count() == 0, f"unexpected dialog: {dialogs.first.inner_text()}"
    return nb


def _run_all(nb: Notebook) -> float:
    """Clear the stored outputs (they hold views of the saved widget state), then Run > Run All Cells.

    A solution cell folded with ``source_hidden`` shows no input prompt, so the prompts counted are
    the other code cells'; the folded ones run too, so the kernel must also be idle at the end.
    """
    n_code = sum(c["cell_type"] == "code"
                 and not c.get("metadata", {}).get("jupyter", {}).get("source_hidden", False)
                 for c in nb.cells)
    nb.menu("Edit", "editmenu:clear-all")
    nb.page.wait_for_function(PROMPTS_CLEAR_JS, timeout=10_000)
    start = time.monotonic()
    nb.menu("Run", "runmenu:run-all")
    try:
        nb.page.wait_for_function(PROMPTS_DONE_JS, arg=n_code, timeout=RUN_ALL_S * 1000, polling=250)
    except Exception:
        prompts = nb.page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        errors = nb.page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        pytest.fail(f"Run All did not finish within {RUN_ALL_S} s: prompts {prompts}\n"
                    f"stderr outputs: {errors.all_inner_texts()}")
    seconds = time.monotonic() - start
    tracebacks = [t for t in nb.page.locator(".jp-OutputArea-output").all_inner_texts() if "Traceback" in t]
    assert not tracebacks, f"a cell raised:\n{tracebacks[0]}"
    return seconds


def _pixels(img: Any) -> str:
    return img.evaluate(PIXELS_JS)


def _wait_for_new_picture(img: Any, before: str, what: str) -> float:
    """Seconds until ``img`` shows other pixels than ``before``; fails after UPDATE_S."""
    start = time.monotonic()
    while time.monotonic() - start < UPDATE_S:
        if _pixels(img) != before:
            return time.monotonic() - start
        time.sleep(0.05)
    pytest.fail(f"{what}: the picture did not change within {UPDATE_S} s")


def _value(handle: Any) -> float:
    return float(handle.get_attribute("aria-valuetext"))  # aria-valuenow is rounded to 0.1


def _drag(page: Any, handle: Any, dx: float) -> None:
    """Press the mouse on the handle's centre, move it ``dx`` pixels sideways in steps, release."""
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=10)
    page.mouse.up()


def _check_slider(nb: Notebook, slider: Any, digit: Any, label: str) -> dict[str, float]:
    """Drag the slider's handle, then press ArrowRight on it; each must redraw the digit."""
    handle = slider.locator(".noUi-handle")
    timings = {}

    value, before = _value(handle), _pixels(digit)
    _drag(nb.page, handle, dx=-60)
    assert _value(handle) < value, f"{label}: dragging did not move the slider ({value} -> {_value(handle)})"
    timings["drag"] = _wait_for_new_picture(digit, before, f"{label}, drag")

    time.sleep(0.3)  # let the last update of the drag land before taking the picture to compare with
    value, before = _value(handle), _pixels(digit)
    handle.focus()
    for _ in range(3):
        nb.page.keyboard.press("ArrowRight")
    assert _value(handle) > value, f"{label}: ArrowRight did not move the slider ({value} -> {_value(handle)})"
    timings["keyboard"] = _wait_for_new_picture(digit, before, f"{label}, ArrowRight")
    return timings


def _explorer_output(nb: Notebook, call: str) -> Any:
    """The rendered output of the code cell that calls ``call``, once its sliders are shown."""
    out = nb.cell(nb.cell_index(call)).locator(".jp-OutputArea-output")
    try:
        out.locator(".widget-slider").first.wait_for(timeout=UPDATE_S * 1000)
    except Exception:
        html = out.first.inner_html()[:3000] if out.count() else "(no output)"
        pytest.fail(f"the {call}...) cell shows no slider; its output:\n{html}\n"
                    f"console errors: {nb.console_errors}")
    return out


def _no_widget_errors(nb: Notebook) -> None:
    shown = nb.page.get_by_text("Error displaying widget")
    assert shown.count() == 0, f"'Error displaying widget' shown: {shown.first.inner_text()}"
    # A widget whose model or view failed to load is drawn as a broken-file icon instead.
    broken = nb.page.locator(".jupyter-widgets-error-widget")
    assert broken.count() == 0, f"{broken.count()} widget(s) failed to render: {nb.console_errors[:2]}"
    widget_errors = [e for e in nb.console_errors if "widget" in e.lower()]
    assert not widget_errors, f"widget errors in the browser console: {widget_errors}"
    assert not nb.page_errors, f"JavaScript errors in the page: {nb.page_errors}"


@pytest.fixture
def context(lab_browser) -> Iterator[Any]:
    ctx = lab_browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(30_000)

    def only_local(route: Any) -> None:
        host = route.request.url.split("/")[2].split(":")[0]
        route.continue_() if host in LOCAL_HOSTS else route.abort()

    ctx.route("**/*", only_local)
    yield ctx
    ctx.close()


def _report(name: str, **seconds: float) -> None:
    print(f"\n{name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items()))


# --- the tests ---------------------------------------------------------------------------------
# lab_browser comes first so that without a browser the tests skip before starting a server.

def test_chapter_2_explorer_sliders_in_jupyterlab(lab_browser, lab, context):
    """Catches explorer_2d sliders that a reader moves in JupyterLab without the digit or the
    marker changing (a broken callback, a widget the frontend cannot render)."""
    nb = _open(context, lab, "02_latent2d.ipynb")
    ran = _run_all(nb)
    out = _explorer_output(nb, "explorer_2d(")
    sliders = out.locator(".widget-slider")
    assert sliders.count() == 2, "explorer_2d shows two sliders (z1, z2)"
    images = out.locator("img.widget-image")
    assert images.count() == 2, "explorer_2d shows the scatter with its marker and the decoded digit"
    where, digit = images.nth(0), images.nth(1)
    scatter_before = _pixels(where)
    t1 = _check_slider(nb, sliders.nth(0), digit, "chapter 2, z1")
    # The scatter is a second image, redrawn by the same callback; wait for it as for the digit.
    _wait_for_new_picture(where, scatter_before, "chapter 2, z1: the marker on the scatter")
    t2 = _check_slider(nb, sliders.nth(1), digit, "chapter 2, z2")
    _no_widget_errors(nb)
    _report("chapter 2", run_all=ran, **{f"z1 {k}": v for k, v in t1.items()}, **{f"z2 {k}": v for k, v in t2.items()})


def test_chapter_4_explorer_nd_slider_in_jupyterlab(lab_browser, lab, context):
    """Catches explorer_nd sliders that a reader moves in JupyterLab without the digit changing."""
    nb = _open(context, lab, "04_latent50.ipynb")
    ran = _run_all(nb)
    out = _explorer_output(nb, "explorer_nd(")
    sliders = out.locator(".widget-slider")
    assert sliders.count() >= 1
    images = out.locator("img.widget-image")
    assert images.count() == 1, "explorer_nd shows one decoded digit"
    t = _check_slider(nb, sliders.nth(0), images.nth(0), "chapter 4, dir 1")
    _no_widget_errors(nb)
    _report("chapter 4", run_all=ran, **{f"dir 1 {k}": v for k, v in t.items()})
