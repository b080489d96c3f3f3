"""The embedded default dataset: synthetic CQC and NHS data in the real published formats.

``cqc-research synth`` (or :func:`generate`) writes, deterministically from a seed, a CQC
"Latest ratings" ODS workbook, CQC API JSON records with rating histories, NHS Payments to
General Practice CSVs, official monthly A&E CSVs, SHMI, staff survey, delayed transfers of care,
population, deprivation, and coded interviews. Each file is in the layout that CQC, NHS England
or NHS Digital publish, so the default run exercises every loader.

The generator plants effects that the analyses must find, and writes them to ``truth.json``
(documented in the README's "Synthetic data" section and in ``docs/DESIGN.md``):

- domain agreement: each key question equals Overall with a known probability
  (Well-led 0.90 ... Caring 0.56);
- rating transitions: consecutive Overall ratings follow a known matrix per sector, simulated
  forwards in time, so the matrix holds exactly in law for every observed pair;
- indicator signal: GP practices' latest rating follows an ordered logit with known, weak
  coefficients on standardised payments measures;
- inspection effect: NHS trusts' A&E 4-hour performance rises by a known amount in the six
  months after each published rating;
- areas: a few "struggling" local authorities have worse adult social care and more delayed
  transfers;
- linkage: planted practice closures, unregistered practice codes and a trust merger.

Everything written carries a ``SYNTHETIC`` marker file, so every report made from it shows the
"SYNTHETIC DATA" banner. None of it describes real organisations.
"""

from .generator import (
    DEFAULT_SEED,
    GENERATOR_VERSION,  # noqa: F401 (the package's modules and tests read these too)
    LOCATION_COLUMNS,  # noqa: F401
    PLANTED_EFFECTS,
    PROVIDER_COLUMNS,  # noqa: F401
    SCALES,
    UNCHECKED_EFFECTS,  # noqa: F401
    SyntheticDataset,
    dataset_paths,
    ensure_default_data,
    generate,
    null_effects,
    planted_parameters,
)

__all__ = ["generate", "SyntheticDataset", "SCALES", "DEFAULT_SEED", "ensure_default_data", "planted_parameters",
           "PLANTED_EFFECTS", "null_effects", "dataset_paths"]
