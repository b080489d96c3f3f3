"""The embedded default dataset: synthetic CQC and NHS data in the real published formats.

``cqc-research synth`` writes it (:func:`cqc_research.synthetic.generate`).
"""

from __future__ import annotations

from ..synthetic import (
    DEFAULT_SEED,
    PLANTED_EFFECTS,
    SCALES,
    UNCHECKED_EFFECTS,
    generate,
    null_effects,
)


def configure_parser(parser) -> None:
    """Add the ``cqc-research synth`` options: ``--out``, ``--seed``, ``--scale``, ``--null``."""
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="folder to write (default: data/raw/synthetic under $CQC_RESEARCH_DATA)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--scale", choices=list(SCALES), default="default",
                        help="small (~600 locations), test (~3,500, every planted effect detectable; see "
                             "docs/DESIGN.md), default (~3,000) or national (~50,000)")
    parser.add_argument("--null", nargs="?", const="all", default=None, metavar="EFFECT[,EFFECT]",
                        help="the null world: every planted effect at its null, with its own truth.json; "
                             f"or only the effects named (comma-separated: "
                             f"{', '.join(PLANTED_EFFECTS + UNCHECKED_EFFECTS)})")


def run_command(args) -> int:
    """Run ``cqc-research synth``: write the dataset, print what was written; returns 0."""
    null = args.null
    if null is not None and null != "all":
        null = [n.strip() for n in null.split(",") if n.strip()]
        try:
            null_effects(null)
        except ValueError as exc:
            raise SystemExit(f"cqc-research synth --null: {exc}") from None
    ds = generate(args.out, seed=args.seed, scale=args.scale, progress=True,
                  null=True if null == "all" else (null or False))
    c = ds.truth["counts"]
    print(f"wrote synthetic dataset to {ds.root} in {ds.seconds:.1f} s: {c['locations']:,} locations, "
          f"{c['trusts']} trusts, {c['local_authorities']} local authorities (seed {args.seed}, scale {args.scale})")
    print(f"planted truth: {ds.root / 'truth.json'}")
    return 0
