"""labelbook's Jupyter extension: ipywidgets to preview and try a labeling task inside the notebook.

The widgets (Preview, TryIt, Monitor, Disagreements) are thin compositions of standard
ipywidgets over objects from the `labelbook` SDK; all logic lives in the SDK.
"""

from __future__ import annotations

__all__: list[str] = []
