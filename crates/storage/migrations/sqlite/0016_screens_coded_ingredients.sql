-- Medications as coded RxNorm ingredients (RXCUI), and what each drug-screen result means.
-- A medication explains a screen result only through these codes. Existing medications are
-- left uncoded on purpose: matching their free-text names was the fault being fixed, so an
-- uncoded medication explains nothing until staff code it.
CREATE TABLE medication_ingredients (
    medication_id INTEGER NOT NULL REFERENCES medications(id),
    rxcui TEXT NOT NULL,
    PRIMARY KEY (medication_id, rxcui)
);

-- finding: expected, review, unexpected, presumptive, not_detected or no_metabolite.
-- expectation gains "missing" (an MOUD adherence finding on a negative result), which the
-- phase review never counts as negative. medication_id: the medication that explains the
-- result or was expected on the specimen.
ALTER TABLE drug_screen_results ADD COLUMN finding TEXT;
ALTER TABLE drug_screen_results ADD COLUMN medication_id INTEGER REFERENCES medications(id);
UPDATE drug_screen_results SET finding = expectation
    WHERE result = 'positive' AND expectation IN ('expected', 'unexpected');
