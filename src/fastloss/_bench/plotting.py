"""The speed-up bar chart of ``bench --plot``."""

import numpy as np

from .._train import pyplot
from . import peers as _peers


def speedup_chart(results, path, env):
    """Write a PNG to ``path``: per case, one bar per peer timed (peer time / fastloss time).

    ``results`` are :class:`fastloss._bench.timing.Result`; the y axis is
    logarithmic, with a line at 1x from which the bars grow (up: fastloss is
    faster).  Peers not timed in a case leave a gap; the floors are not drawn.
    """
    plt = pyplot()
    peers = [p for p in _peers.PEERS if any(r.ratio(p) is not None for r in results)]
    labels = [f"{r.function} {r.dtype} {tuple(r.shape)}" for r in results]
    x = np.arange(len(results))
    width = 0.8 / max(len(peers), 1)
    fig, ax = plt.subplots(figsize=(min(40.0, max(6.4, 0.45 * len(results) + 2)), 6.0))
    for k, peer in enumerate(peers):
        ratios = np.array([np.nan if r.ratio(peer) is None else r.ratio(peer) for r in results])
        # bars grow from the 1x line: up where fastloss is faster, down where the peer is
        ax.bar(x + (k - (len(peers) - 1) / 2) * width, ratios - 1.0, width, bottom=1.0,
               label=peer, color=f"C{k}")
    ax.axhline(1.0, color="black", lw=1.0)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.set_ylabel("speed-up of fastloss: peer time / fastloss time")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_xlim(-0.6, len(results) - 0.4)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(
        f"fastloss {env['fastloss']} ({env['kernel_isa']}, {env['fastloss_threads']} thread(s)) "
        "against its peers; above the line fastloss is faster",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
