-- Test data, fictitious (the SIRET numbers fail the Luhn check on purpose, so none is a real company). Loaded only
-- where the environment is not persistent.
-- agrements: upsert, so a second run changes nothing and an edited row is restored.
INSERT INTO agrements (numero, siret, statut, region_code) VALUES
  ('AG-2026-0001', '15881399869871', 'en-instruction', '94'),
  ('AG-2026-0002', '73091141707531', 'transmise', '75'),
  ('AG-2026-0003', '45568151884470', 'en-instruction', '24'),
  ('AG-2026-0004', '94055761698710', 'transmise', '76'),
  ('AG-2026-0005', '89768469788090', 'en-instruction', '32'),
  ('AG-2026-0006', '20819672731770', 'transmise', '93')
ON CONFLICT (numero) DO UPDATE SET siret = excluded.siret, statut = excluded.statut, region_code = excluded.region_code
WHERE agrements.siret IS DISTINCT FROM excluded.siret OR agrements.statut IS DISTINCT FROM excluded.statut OR agrements.region_code IS DISTINCT FROM excluded.region_code;
