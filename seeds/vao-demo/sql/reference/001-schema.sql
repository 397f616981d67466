-- VAO's schema (seed 002: created by the database's first start in every environment). Idempotent and portable:
-- the same script runs on PostgreSQL (psql) and on the local SQLite stand-in.
CREATE TABLE IF NOT EXISTS regions (
  code    TEXT PRIMARY KEY,
  libelle TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS departements (
  code        TEXT PRIMARY KEY,
  libelle     TEXT NOT NULL,
  region_code TEXT NOT NULL REFERENCES regions (code)
);
CREATE TABLE IF NOT EXISTS types_handicap (
  code    TEXT PRIMARY KEY,
  libelle TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS statuts_demande (
  code    TEXT PRIMARY KEY,
  libelle TEXT NOT NULL,
  final   BOOLEAN NOT NULL
);
-- Filled by the organisations' procedures (test data in non-persistent environments only).
CREATE TABLE IF NOT EXISTS organismes (
  siret       TEXT PRIMARY KEY,
  raison      TEXT NOT NULL,
  departement TEXT NOT NULL REFERENCES departements (code)
);
CREATE TABLE IF NOT EXISTS agrements (
  numero      TEXT PRIMARY KEY,
  siret       TEXT NOT NULL REFERENCES organismes (siret),
  statut      TEXT NOT NULL REFERENCES statuts_demande (code),
  region_code TEXT NOT NULL REFERENCES regions (code)
);
CREATE TABLE IF NOT EXISTS sejours (
  id              TEXT PRIMARY KEY,
  agrement        TEXT NOT NULL REFERENCES agrements (numero),
  destination     TEXT NOT NULL REFERENCES departements (code),
  type_handicap   TEXT NOT NULL REFERENCES types_handicap (code),
  debut           DATE NOT NULL,
  fin             DATE NOT NULL,
  vacanciers      INTEGER NOT NULL,
  statut          TEXT NOT NULL REFERENCES statuts_demande (code)
);
