#!/usr/bin/env python3
"""Generate the Orthense seed datasets (reference and test tiers), deterministically.

The files under ``data/reference`` and ``data/test`` are committed AND generated: edit this script, never the JSON.
Everything is fake: names are drawn from lists of common French first and last names, e-mails live under
example.org, identifiers are synthetic. A fixed seed makes a second run produce byte-identical files.

Two stores, mirroring the Orthense platform:

* ``accounts.<table>.json``: the accounts API's relational data (SQL Server in Azure, SQLite locally). Personal data
  (names, e-mails) lives here only.
* ``medical.<collection>.json``: the medical-data API's documents (Cosmos DB for MongoDB in Azure, a SQLite table of
  JSON documents per collection locally). Documents refer to people by identifier only.

Usage::

    python3 seeds/orthense-demo/data/generate.py            # (re)write the dataset files
    python3 seeds/orthense-demo/data/generate.py --check    # exit 1 if the committed files are stale
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pathlib
import random
import sys
import unicodedata

SEED = 20250106
BASE_DATE = dt.date(2025, 1, 6)
DATA_DIR = pathlib.Path(__file__).resolve().parent
TIERS = ("reference", "test")

FIRST_NAMES = [
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Jade", "Louise", "Alice", "Juliette", "Zoé", "Lucie",
    "Hugo", "Lucas", "Louis", "Gabriel", "Arthur", "Jules", "Nathan", "Théo", "Raphaël", "Mathis", "Clément",
    "Antoine", "Élodie", "Margaux", "Noémie", "Adèle", "Baptiste", "Maxime", "Quentin", "Romain", "Céline",
    "Sébastien", "Hélène", "François",
]
LAST_NAMES = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
    "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
    "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand", "Garnier",
    "Faure", "Rousseau", "Blanc", "Guérin", "Muller",
]
CITIES = [
    ("Lyon", "FR"), ("Bordeaux", "FR"), ("Nantes", "FR"), ("Lille", "FR"), ("Toulouse", "FR"), ("Rennes", "FR"),
    ("Grenoble", "FR"), ("Bruxelles", "BE"), ("Genève", "CH"), ("Luxembourg", "LU"),
]
ORG_KINDS = ["Cabinet de kinésithérapie", "Centre de rééducation", "Clinique du sport", "Maison de santé"]

COUNTRIES = [
    ("BE", "Belgique"), ("CA", "Canada"), ("CH", "Suisse"), ("DE", "Allemagne"), ("DZ", "Algérie"),
    ("ES", "Espagne"), ("FR", "France"), ("GB", "Royaume-Uni"), ("GF", "Guyane"), ("GP", "Guadeloupe"),
    ("IT", "Italie"), ("LU", "Luxembourg"), ("MA", "Maroc"), ("MC", "Monaco"), ("MQ", "Martinique"),
    ("NC", "Nouvelle-Calédonie"), ("PF", "Polynésie française"), ("PT", "Portugal"), ("RE", "La Réunion"),
    ("SN", "Sénégal"), ("TN", "Tunisie"), ("YT", "Mayotte"),
]
ROLES = [
    ("backoffice-admin", "Administrateur backoffice", "backoffice"),
    ("backoffice-support", "Support backoffice", "backoffice"),
    ("organisation-admin", "Administrateur de structure", "pro"),
    ("patient", "Patient", "patient"),
    ("practitioner", "Praticien", "pro"),
]
SPECIALTIES = [
    ("chirurgie-orthopedique", "Chirurgie orthopédique"), ("ergotherapie", "Ergothérapie"),
    ("kinesitherapie", "Masso-kinésithérapie"), ("medecine-du-sport", "Médecine du sport"),
    ("medecine-generale", "Médecine générale"), ("medecine-physique", "Médecine physique et de réadaptation"),
    ("osteopathie", "Ostéopathie"), ("podologie", "Pédicurie-podologie"), ("rhumatologie", "Rhumatologie"),
    ("traumatologie", "Traumatologie"),
]
BODY_PARTS = {
    "cheville": ["Flexion plantaire", "Équilibre unipodal", "Montée sur pointes", "Alphabet avec le pied"],
    "cou": ["Rotation cervicale", "Rétraction du menton", "Inclinaison latérale"],
    "coude": ["Flexion-extension du coude", "Pronation-supination", "Excentrique des épicondyliens"],
    "dos": ["Gainage ventral", "Chat-vache", "Pont fessier", "Bird-dog", "Étirement du piriforme"],
    "épaule": ["Pendulaire de Codman", "Rotation externe élastique", "Élévation antérieure", "Glissement mural"],
    "genou": ["Quadriceps isométrique", "Squat partiel", "Extension terminale", "Step-up", "Leg curl élastique"],
    "hanche": ["Abduction couché", "Clamshell", "Fente avant", "Extension de hanche debout"],
    "poignet": ["Flexion du poignet", "Préhension balle mousse", "Déviation radiale"],
}
PATHOLOGIES = [
    ("entorse-cheville", "Entorse de la cheville", "cheville"),
    ("lombalgie", "Lombalgie commune", "dos"),
    ("cervicalgie", "Cervicalgie", "cou"),
    ("epicondylite", "Épicondylite latérale", "coude"),
    ("lca-post-op", "Reconstruction du ligament croisé antérieur", "genou"),
    ("prothese-genou", "Prothèse totale de genou", "genou"),
    ("prothese-hanche", "Prothèse totale de hanche", "hanche"),
    ("tendinopathie-coiffe", "Tendinopathie de la coiffe des rotateurs", "épaule"),
    ("capsulite", "Capsulite rétractile", "épaule"),
    ("fracture-poignet", "Fracture du poignet", "poignet"),
    ("syndrome-rotulien", "Syndrome fémoro-patellaire", "genou"),
    ("tendinopathie-achille", "Tendinopathie d'Achille", "cheville"),
]
NOTES = [
    "Bonne progression, amplitude en hausse.", "Douleur stable, poursuite du protocole.",
    "Reprise progressive de la marche.", "Exercices bien tolérés.", "Gêne nocturne signalée, charge réduite.",
    "Objectifs de la semaine atteints.", "Oedème en diminution.", "Adhésion moyenne au programme à domicile.",
]


def slug(text: str) -> str:
    """ASCII lowercase form of a name, for fake e-mail addresses."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in ascii_text.lower() if c.isalnum() or c == "-")


def table(name: str, tier: str, key: list[str], columns: list[tuple[str, str]], rows: list[dict]) -> dict:
    """A relational dataset: the column types are portable (string, integer, boolean, date, timestamp)."""
    return {
        "store": "accounts",
        "kind": "table",
        "name": name,
        "tier": tier,
        "key": key,
        "columns": [{"name": c, "type": t} for c, t in columns],
        "rows": rows,
    }


def collection(name: str, tier: str, documents: list[dict]) -> dict:
    """A document dataset: every document has a string ``_id``."""
    return {"store": "medical", "kind": "collection", "name": name, "tier": tier, "documents": documents}


def build() -> list[dict]:
    rng = random.Random(SEED)
    datasets: list[dict] = []

    # ---- accounts, reference tier -------------------------------------------------------------------------
    datasets.append(table(
        "countries", "reference", ["code"], [("code", "string"), ("name", "string")],
        [{"code": c, "name": n} for c, n in COUNTRIES],
    ))
    datasets.append(table(
        "roles", "reference", ["code"], [("code", "string"), ("label", "string"), ("application", "string")],
        [{"code": c, "label": lbl, "application": app} for c, lbl, app in ROLES],
    ))
    datasets.append(table(
        "specialties", "reference", ["code"], [("code", "string"), ("label", "string")],
        [{"code": c, "label": lbl} for c, lbl in SPECIALTIES],
    ))

    # ---- accounts, test tier ------------------------------------------------------------------------------
    used_emails: set[str] = set()

    def person() -> tuple[str, str, str]:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        base = f"{slug(first)}.{slug(last)}"
        email, n = f"{base}@example.org", 1
        while email in used_emails:
            n += 1
            email = f"{base}.{n}@example.org"
        used_emails.add(email)
        return first, last, email

    organisations = []
    for i in range(1, 9):
        city, country = CITIES[(i - 1) % len(CITIES)]
        organisations.append({
            "id": f"org-{i:03d}",
            "name": f"{rng.choice(ORG_KINDS)} {city} {rng.choice(['Centre', 'Nord', 'Sud', 'Gare', 'Parc'])}",
            "city": city,
            "country_code": country,
            "active": i != 8,
        })
    datasets.append(table(
        "organisations", "test", ["id"],
        [("id", "string"), ("name", "string"), ("city", "string"), ("country_code", "string"), ("active", "boolean")],
        organisations,
    ))

    practitioners = []
    for i in range(1, 25):
        first, last, email = person()
        practitioners.append({
            "id": f"pra-{i:04d}",
            "first_name": first,
            "last_name": last,
            "email": email,
            "specialty_code": rng.choice(SPECIALTIES)[0],
            "organisation_id": organisations[(i - 1) % len(organisations)]["id"],
            "created_at": f"{BASE_DATE - dt.timedelta(days=rng.randint(30, 900))}T09:00:00Z",
        })
    datasets.append(table(
        "practitioners", "test", ["id"],
        [("id", "string"), ("first_name", "string"), ("last_name", "string"), ("email", "string"),
         ("specialty_code", "string"), ("organisation_id", "string"), ("created_at", "timestamp")],
        practitioners,
    ))

    patients = []
    for i in range(1, 61):
        first, last, email = person()
        patients.append({
            "id": f"pat-{i:04d}",
            "first_name": first,
            "last_name": last,
            "email": email,
            "birth_date": str(dt.date(rng.randint(1945, 2008), rng.randint(1, 12), rng.randint(1, 28))),
            "country_code": rng.choice(["FR"] * 8 + ["BE", "CH", "LU", "RE"]),
            "referring_practitioner_id": rng.choice(practitioners)["id"],
            "created_at": f"{BASE_DATE - dt.timedelta(days=rng.randint(1, 400))}T10:30:00Z",
        })
    datasets.append(table(
        "patient_accounts", "test", ["id"],
        [("id", "string"), ("first_name", "string"), ("last_name", "string"), ("email", "string"),
         ("birth_date", "date"), ("country_code", "string"), ("referring_practitioner_id", "string"),
         ("created_at", "timestamp")],
        patients,
    ))

    backoffice = []
    for i in range(1, 5):
        first, last, email = person()
        backoffice.append({"id": f"bo-{i:03d}", "first_name": first, "last_name": last, "email": email})
    datasets.append(table(
        "backoffice_users", "test", ["id"],
        [("id", "string"), ("first_name", "string"), ("last_name", "string"), ("email", "string")],
        backoffice,
    ))

    grants = [{"account_id": p["id"], "role_code": "practitioner"} for p in practitioners]
    grants += [{"account_id": p["id"], "role_code": "organisation-admin"} for p in practitioners[: len(organisations)]]
    grants += [{"account_id": p["id"], "role_code": "patient"} for p in patients]
    grants += [{"account_id": b["id"], "role_code": "backoffice-admin" if i == 0 else "backoffice-support"}
               for i, b in enumerate(backoffice)]
    datasets.append(table(
        "account_roles", "test", ["account_id", "role_code"], [("account_id", "string"), ("role_code", "string")],
        grants,
    ))

    # ---- medical, reference tier --------------------------------------------------------------------------
    exercises = []
    for part in sorted(BODY_PARTS):
        for name in BODY_PARTS[part]:
            exercises.append({
                "_id": f"exe-{len(exercises) + 1:03d}",
                "name": name,
                "body_part": part,
                "difficulty": rng.choice(["facile", "moyen", "difficile"]),
                "default_sets": rng.randint(2, 4),
                "default_repetitions": rng.choice([8, 10, 12, 15, 20]),
                "video": f"https://media.example.org/exercises/exe-{len(exercises) + 1:03d}.mp4",
            })
    datasets.append(collection("exercises", "reference", exercises))

    datasets.append(collection("pathologies", "reference", [
        {"_id": code, "label": label, "body_part": part} for code, label, part in PATHOLOGIES
    ]))

    protocols = []
    for code, label, part in PATHOLOGIES:
        candidates = [e["_id"] for e in exercises if e["body_part"] == part]
        phases = []
        for phase, weeks in (("protection", 2), ("récupération", 4), ("renforcement", 6)):
            phases.append({
                "phase": phase,
                "weeks": weeks,
                "exercise_ids": sorted(rng.sample(candidates, k=min(len(candidates), rng.randint(2, 3)))),
            })
        protocols.append({"_id": f"pro-{code}", "pathology_id": code, "title": f"Protocole {label}", "phases": phases})
    datasets.append(collection("protocols", "reference", protocols))

    # ---- medical, test tier -------------------------------------------------------------------------------
    care_plans, consultations, prescriptions = [], [], []
    for i, patient in enumerate(patients[:50], start=1):
        protocol = rng.choice(protocols)
        start = BASE_DATE - dt.timedelta(days=rng.randint(7, 120))
        practitioner_id = patient["referring_practitioner_id"]
        care_plans.append({
            "_id": f"cpl-{i:04d}",
            "patient_id": patient["id"],
            "practitioner_id": practitioner_id,
            "protocol_id": protocol["_id"],
            "start_date": str(start),
            "status": rng.choice(["actif", "actif", "actif", "terminé", "suspendu"]),
        })
        for _ in range(rng.randint(1, 3)):
            day = start + dt.timedelta(days=rng.randint(0, 60))
            consultations.append({
                "_id": f"con-{len(consultations) + 1:05d}",
                "patient_id": patient["id"],
                "practitioner_id": practitioner_id,
                "care_plan_id": f"cpl-{i:04d}",
                "date": str(day),
                "pain_score": rng.randint(0, 10),
                "notes": rng.choice(NOTES),
            })
        exercise_ids = sorted({e for phase in protocol["phases"] for e in phase["exercise_ids"]})
        prescriptions.append({
            "_id": f"prs-{i:04d}",
            "patient_id": patient["id"],
            "practitioner_id": practitioner_id,
            "care_plan_id": f"cpl-{i:04d}",
            "issued_on": str(start),
            "items": [
                {"exercise_id": e, "sets": rng.randint(2, 4), "repetitions": rng.choice([8, 10, 12, 15]),
                 "per_week": rng.randint(3, 7)}
                for e in exercise_ids
            ],
        })
    datasets.append(collection("care_plans", "test", care_plans))
    datasets.append(collection("consultations", "test", consultations))
    datasets.append(collection("prescriptions", "test", prescriptions))
    return datasets


def render(datasets: list[dict]) -> dict[pathlib.Path, str]:
    files = {}
    for ds in datasets:
        path = pathlib.Path(ds["tier"]) / f"{ds['store']}.{ds['name']}.json"
        files[path] = json.dumps(ds, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files differ from a fresh run")
    parser.add_argument("--output", type=pathlib.Path, default=DATA_DIR, help="directory to write (default: beside)")
    args = parser.parse_args()

    files = render(build())
    stale = []
    for tier in TIERS:
        existing = {p.relative_to(args.output) for p in (args.output / tier).glob("*.json")}
        stale += [str(p) for p in sorted(existing - set(files))]
    for rel, text in sorted(files.items()):
        target = args.output / rel
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(rel))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {rel}")
    if args.check:
        if stale:
            print("stale dataset files (run seeds/orthense-demo/data/generate.py): " + ", ".join(stale), file=sys.stderr)
            return 1
        print(f"datasets up to date: {len(files)} files")
        return 0
    for rel in stale:  # a dataset that is no longer generated
        (args.output / rel).unlink()
        print(f"removed {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
