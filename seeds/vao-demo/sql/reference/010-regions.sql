-- The regions (INSEE codes): reference data, loaded in every environment.
-- regions: upsert, so a second run changes nothing and an edited row is restored.
INSERT INTO regions (code, libelle) VALUES
  ('11', 'Île-de-France'),
  ('24', 'Centre-Val de Loire'),
  ('27', 'Bourgogne-Franche-Comté'),
  ('28', 'Normandie'),
  ('32', 'Hauts-de-France'),
  ('44', 'Grand Est'),
  ('52', 'Pays de la Loire'),
  ('53', 'Bretagne'),
  ('75', 'Nouvelle-Aquitaine'),
  ('76', 'Occitanie'),
  ('84', 'Auvergne-Rhône-Alpes'),
  ('93', 'Provence-Alpes-Côte d''Azur'),
  ('94', 'Corse'),
  ('01', 'Guadeloupe'),
  ('02', 'Martinique'),
  ('03', 'Guyane'),
  ('04', 'La Réunion'),
  ('06', 'Mayotte')
ON CONFLICT (code) DO UPDATE SET libelle = excluded.libelle
WHERE regions.libelle IS DISTINCT FROM excluded.libelle;
