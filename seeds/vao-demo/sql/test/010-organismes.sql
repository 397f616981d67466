-- Test data, fictitious (the SIRET numbers fail the Luhn check on purpose, so none is a real company). Loaded only
-- where the environment is not persistent.
-- organismes: upsert, so a second run changes nothing and an edited row is restored.
INSERT INTO organismes (siret, raison, departement) VALUES
  ('15881399869871', 'Association Les Embruns (fictif)', '2A'),
  ('73091141707531', 'Vacances Partagées (fictif)', '17'),
  ('45568151884470', 'Séjours du Lac (fictif)', '45'),
  ('94055761698710', 'Horizons Adaptés (fictif)', '34'),
  ('89768469788090', 'Les Chemins Verts (fictif)', '59'),
  ('20819672731770', 'Escapades Solidaires (fictif)', '06')
ON CONFLICT (siret) DO UPDATE SET raison = excluded.raison, departement = excluded.departement
WHERE organismes.raison IS DISTINCT FROM excluded.raison OR organismes.departement IS DISTINCT FROM excluded.departement;
