-- Test data, fictitious (the SIRET numbers fail the Luhn check on purpose, so none is a real company). Loaded only
-- where the environment is not persistent.
-- sejours: upsert, so a second run changes nothing and an edited row is restored.
INSERT INTO sejours (id, agrement, destination, type_handicap, debut, fin, vacanciers, statut) VALUES
  ('SJ-2027-0001', 'AG-2026-0006', '63', 'sensoriel-visuel', '2027-08-13', '2027-08-20', 10, 'transmise'),
  ('SJ-2027-0002', 'AG-2026-0003', '75', 'polyhandicap', '2027-05-05', '2027-05-12', 23, 'transmise'),
  ('SJ-2027-0003', 'AG-2026-0005', '73', 'psychique', '2027-07-07', '2027-07-14', 19, 'transmise'),
  ('SJ-2027-0004', 'AG-2026-0005', '73', 'polyhandicap', '2027-08-18', '2027-08-25', 5, 'transmise'),
  ('SJ-2027-0005', 'AG-2026-0003', '69', 'polyhandicap', '2027-05-15', '2027-05-22', 20, 'transmise'),
  ('SJ-2027-0006', 'AG-2026-0004', '25', 'moteur', '2027-08-16', '2027-08-23', 24, 'transmise'),
  ('SJ-2027-0007', 'AG-2026-0004', '33', 'polyhandicap', '2027-05-07', '2027-05-14', 17, 'brouillon'),
  ('SJ-2027-0008', 'AG-2026-0004', '75', 'sensoriel-visuel', '2027-05-01', '2027-05-08', 22, 'validee'),
  ('SJ-2027-0009', 'AG-2026-0001', '974', 'moteur', '2027-06-08', '2027-06-15', 23, 'brouillon'),
  ('SJ-2027-0010', 'AG-2026-0005', '68', 'moteur', '2027-07-05', '2027-07-12', 14, 'validee'),
  ('SJ-2027-0011', 'AG-2026-0005', '05', 'sensoriel-auditif', '2027-08-05', '2027-08-12', 11, 'transmise'),
  ('SJ-2027-0012', 'AG-2026-0005', '37', 'psychique', '2027-09-17', '2027-09-24', 6, 'transmise')
ON CONFLICT (id) DO UPDATE SET agrement = excluded.agrement, destination = excluded.destination, type_handicap = excluded.type_handicap, debut = excluded.debut, fin = excluded.fin, vacanciers = excluded.vacanciers, statut = excluded.statut
WHERE sejours.agrement IS DISTINCT FROM excluded.agrement OR sejours.destination IS DISTINCT FROM excluded.destination OR sejours.type_handicap IS DISTINCT FROM excluded.type_handicap OR sejours.debut IS DISTINCT FROM excluded.debut OR sejours.fin IS DISTINCT FROM excluded.fin OR sejours.vacanciers IS DISTINCT FROM excluded.vacanciers OR sejours.statut IS DISTINCT FROM excluded.statut;
