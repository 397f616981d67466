-- The states of an application (agrément or stay declaration): reference data.
-- statuts_demande: upsert, so a second run changes nothing and an edited row is restored.
INSERT INTO statuts_demande (code, libelle, final) VALUES
  ('brouillon', 'Brouillon', FALSE),
  ('transmise', 'Transmise', FALSE),
  ('en-instruction', 'En cours d''instruction', FALSE),
  ('complements', 'Compléments demandés', FALSE),
  ('validee', 'Validée', TRUE),
  ('refusee', 'Refusée', TRUE),
  ('annulee', 'Annulée', TRUE)
ON CONFLICT (code) DO UPDATE SET libelle = excluded.libelle, final = excluded.final
WHERE statuts_demande.libelle IS DISTINCT FROM excluded.libelle OR statuts_demande.final IS DISTINCT FROM excluded.final;
