"""Running notebooks in a real Jupyter kernel (nbclient with ipykernel, both in the dev extra)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_in_fresh_kernel(notebook, tmp_path: Path, timeout: int = 300):
    """Execute `notebook` (an nbformat node) in place, top to bottom, in a new kernel; raise on any error.

    The kernel runs this interpreter, whatever "python3" kernels the user's Jupyter
    folders hold (so it imports the autodiff under test), in the root of the clone.
    """
    import nbclient
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    kernels = tmp_path / "kernels"
    (kernels / "python3").mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python"}
    (kernels / "python3" / "kernel.json").write_text(json.dumps({**spec, "display_name": "Python 3"}))
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    client = nbclient.NotebookClient(
        notebook, km=manager, timeout=timeout, record_timing=False, resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    return notebook


def code_notebook(*sources: str):
    """A notebook of code cells, one per source."""
    from nbformat.v4 import new_code_cell, new_notebook

    return new_notebook(cells=[new_code_cell(source) for source in sources])
