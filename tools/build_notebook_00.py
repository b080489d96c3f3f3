"""Write notebooks/00_data_overview.ipynb (kept as code so the notebook is easy to review)."""
import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
params = code('''ratings_path: str = ""  # CQC Latest ratings workbook (ODS, XLSX or CSV); empty: the embedded synthetic data
api_path: str = ""  # folder of CQC API location records (sync-api layout); empty: the embedded synthetic data
level: str = "location"  # "location" or "provider": which organisations to describe
output_dir: str = ""  # run folder for tables/ and figures/; empty: outputs/interactive''')
params.metadata["tags"] = ["parameters"]
cells = [
    md("# CQC ratings: what the data holds\n\nA first look at the ratings data behind every other report: how many "
       "organisations are rated, the mix of ratings by sector, domain and region, and how old the ratings are."),
    params,
    code('''import matplotlib.pyplot as plt

import cqc_research as cqc
from cqc_research import paths, plots
from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
from cqc_research.io.cqc_json import load_api_folder
from cqc_research.metrics.overview import data_freshness, rating_mix, source_agreement
from cqc_research.notebook_output import Report
from cqc_research.synthetic import ensure_default_data

if not ratings_path or not api_path:
    default = ensure_default_data(quiet=True)
ratings_path = ratings_path or str(default / "cqc" / "latest_ratings.ods")
api_path = api_path or str(default / "cqc_api")
output_dir = output_dir or str(paths.outputs_root() / "interactive")
plots.set_theme()
rep = Report(output_dir, sources=[ratings_path, api_path], title="CQC ratings: data overview")
rep.header()'''),
    md("## The Latest ratings file"),
    code('''long = load_latest_ratings(ratings_path)
org = long[(long["level"] == level) & (long["service_group"] == "Overall")]
overall = org[org["domain"] == "Overall"]
print(f"{len(long):,} rows; {long['org_id'].nunique():,} organisations; "
      f"{overall['org_id'].nunique():,} {level}s with an overall rating row")
status = overall["rating_status"].value_counts()
status[status > 0].rename("organisations").to_frame()'''),
    md("### Ratings by sector\n\nThe mix of overall ratings in each sector, with 95% Wilson intervals for each share."),
    code('''by_sector = rating_mix(overall, by="sector")
rep.save_table(by_sector, "ratings_by_sector")
fig = plots.rating_distribution(overall, by="sector", title=f"Overall rating by sector ({level}s)")
rep.save_figure(fig, "ratings_by_sector")
by_sector.pivot(index="sector", columns="rating", values="share").round(3)'''),
    md("### Ratings by domain\n\nThe five key questions and the overall rating, across every sector."),
    code('''by_domain = rating_mix(org, by="domain")
rep.save_table(by_domain, "ratings_by_domain")
fig = plots.rating_distribution(org, by="domain", title=f"Rating by domain ({level}s)")
rep.save_figure(fig, "ratings_by_domain")
plt.show()'''),
    md("### Ratings by region"),
    code('''by_region = rating_mix(overall, by=["region", "sector"])
rep.save_table(by_region, "ratings_by_region")
fig = plots.rating_distribution(overall, by="region", title="Overall rating by region (all sectors)")
rep.save_figure(fig, "ratings_by_region")
plt.show()'''),
    md("## How fresh are the ratings?\n\nA rating describes the service when it was inspected. Old ratings are common, "
       "so any comparison with current performance data should say how old they are."),
    code('''import seaborn as sns

fresh = data_freshness(overall, by="sector")
rep.save_table(fresh, "data_freshness")
fig, ax = plt.subplots(figsize=(8, 3.5))
sns.histplot(data=overall.assign(year=overall["publication_date"].dt.year), x="year", hue="sector",
             multiple="stack", discrete=True, ax=ax)
ax.set(title="Publication year of the current overall rating", xlabel="year published", ylabel="organisations")
rep.save_figure(fig, "publication_year")
fresh'''),
    md("## The CQC API records\n\nThe API gives each location's rating history as well as its current rating. "
       "Both sources should agree on the current rating."),
    code('''api = load_api_folder(api_path)
display(api)
hist = api.history[api.history["domain"] == "Overall"]
reports = hist.groupby("org_id")["report_link_id"].nunique()
print(f"{len(api.locations):,} locations; {hist['report_link_id'].nunique():,} inspection reports; "
      f"median {reports.median():.0f} reports per location (max {reports.max()})")
hist_status = hist["rating_status"].value_counts()
hist_status[hist_status > 0].rename("reports (overall rating)").to_frame()'''),
    code('''agree = source_agreement(ratings_wide(long, level="location"), ratings_wide(api.ratings, level="location"))
rep.save_table(agree, "workbook_vs_api")
agree'''),
    md("## Notes\n\n- Ratings not on the four-point scale (for example *Inspected but not rated*) are kept as a "
       "separate status and counted above, never dropped silently.\n- Shares are of organisations with a "
       "rating on the scale; intervals are 95% Wilson intervals."),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
    "language_info": {"name": "python"}})
for i, cell in enumerate(nb.cells):
    cell["id"] = str(i)
nbf.write(nb, "notebooks/00_data_overview.ipynb")
