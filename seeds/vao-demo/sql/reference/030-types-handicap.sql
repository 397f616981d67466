-- Kinds of disability a stay is adapted to: reference data.
-- types_handicap: upsert, so a second run changes nothing and an edited row is restored.
INSERT INTO types_handicap (code, libelle) VALUES
  ('moteur', 'Handicap moteur'),
  ('mental', 'Handicap mental'),
  ('psychique', 'Handicap psychique'),
  ('sensoriel-visuel', 'Déficience visuelle'),
  ('sensoriel-auditif', 'Déficience auditive'),
  ('polyhandicap', 'Polyhandicap'),
  ('tsa', 'Troubles du spectre de l''autisme')
ON CONFLICT (code) DO UPDATE SET libelle = excluded.libelle
WHERE types_handicap.libelle IS DISTINCT FROM excluded.libelle;
