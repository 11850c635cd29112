//! Form descriptions (items, answer options, skip logic) and the checks every response set passes.

use super::{Instrument, MeasureError, Responses};
use serde::Serialize;

/// One answer an item offers: the stored value and the label shown to the respondent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AnswerOption {
    /// Stored value (for yes/no items: 0 = No, 1 = Yes); for most instruments also the points.
    pub value: u8,
    /// Label shown with the value.
    pub label: &'static str,
    /// LOINC answer code, where the reference confirms one.
    pub loinc: Option<&'static str>,
}

impl AnswerOption {
    /// An option without a confirmed LOINC answer code.
    pub(crate) const fn new(value: u8, label: &'static str) -> Self {
        AnswerOption {
            value,
            label,
            loinc: None,
        }
    }

    /// An option with its LOINC answer code.
    pub(crate) const fn coded(value: u8, label: &'static str, loinc: &'static str) -> Self {
        AnswerOption {
            value,
            label,
            loinc: Some(loinc),
        }
    }
}

/// When an item is put to the respondent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Asked {
    /// Always asked and must be answered.
    Always,
    /// Asked, but may be left blank (detail items that are not scored).
    Optional,
    /// Asked, and then required, only when an earlier item has the given answer; otherwise it must
    /// be left blank.
    OnlyIf {
        /// Position (0-based) of the earlier item in [`Form::items`].
        item: usize,
        /// The answer value of that item that opens this one.
        answer: u8,
    },
}

/// One item of a form: a short wording-free label (the instruments' own wording is not reproduced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FormItem {
    /// Item id as printed on the form ("4", "7A", "6a").
    pub id: &'static str,
    /// Short label naming what the item asks about.
    pub label: &'static str,
    /// The answers the item accepts.
    pub options: &'static [AnswerOption],
    /// Skip logic.
    pub asked: Asked,
    /// LOINC code of the item, where the reference confirms one.
    pub loinc: Option<&'static str>,
}

impl FormItem {
    /// An always-asked item with no LOINC code.
    pub(crate) const fn new(
        id: &'static str,
        label: &'static str,
        options: &'static [AnswerOption],
    ) -> Self {
        FormItem {
            id,
            label,
            options,
            asked: Asked::Always,
            loinc: None,
        }
    }

    /// The same item with its LOINC code.
    pub(crate) const fn loinc(self, code: &'static str) -> Self {
        FormItem {
            loinc: Some(code),
            ..self
        }
    }

    /// The same item with skip logic.
    pub(crate) const fn asked(self, asked: Asked) -> Self {
        FormItem { asked, ..self }
    }

    /// Whether `value` is one of the item's answers.
    pub fn allows(&self, value: u8) -> bool {
        self.options.iter().any(|o| o.value == value)
    }

    /// The label of an answer value, if the item offers it.
    pub fn answer_label(&self, value: u8) -> Option<&'static str> {
        self.options
            .iter()
            .find(|o| o.value == value)
            .map(|o| o.label)
    }

    /// The allowed values as staff read them: "0–3" when contiguous, else "0, 2 or 4".
    pub fn allowed_values(&self) -> String {
        let values: Vec<u8> = self.options.iter().map(|o| o.value).collect();
        let contiguous = values.windows(2).all(|w| w[1] == w[0] + 1);
        match values.as_slice() {
            [] => String::new(),
            [only] => only.to_string(),
            [first, .., last] if contiguous => format!("{first}–{last}"),
            [init @ .., last] => {
                let init: Vec<String> = init.iter().map(u8::to_string).collect();
                format!("{} or {last}", init.join(", "))
            }
        }
    }
}

/// Everything a UI needs to render an instrument and everything validation checks against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Form {
    /// The instrument this form belongs to.
    pub instrument: Instrument,
    /// The period the respondent is asked about.
    pub look_back: &'static str,
    /// Items in the order answers are given in [`Responses::answers`].
    pub items: &'static [FormItem],
    /// LOINC code of the panel, where the reference confirms one.
    pub loinc_panel: Option<&'static str>,
    /// LOINC code of the total score, where the reference gives one.
    pub loinc_total: Option<&'static str>,
}

impl Form {
    /// Staff wording of an "asked only if" condition ("item 2 = Yes").
    fn condition(&self, item: usize, answer: u8) -> String {
        match self.items.get(item) {
            Some(it) => format!(
                "item {} = {}",
                it.id,
                it.answer_label(answer).unwrap_or("?")
            ),
            None => format!("item #{item} = {answer}"),
        }
    }
}

/// Answers that passed validation; items left blank (unasked or optional) read as 0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answers<'a>(&'a [Option<u8>]);

impl Answers<'_> {
    /// The answer at a 0-based form position; blank counts as 0 because only unasked or unscored
    /// items can be blank after validation, and unasked C-SSRS items mean "No".
    pub(crate) fn at(&self, position: usize) -> u8 {
        self.0.get(position).copied().flatten().unwrap_or(0)
    }

    /// The answer to item `number` (1-based) on forms whose ids are 1..n in order.
    pub(crate) fn item(&self, number: usize) -> u8 {
        number.checked_sub(1).map_or(0, |p| self.at(p))
    }

    /// Sum of the answers to the given 1-based item numbers.
    pub(crate) fn sum_items(&self, numbers: impl IntoIterator<Item = usize>) -> u16 {
        numbers.into_iter().map(|n| u16::from(self.item(n))).sum()
    }

    /// Sum of every answer on the form.
    pub(crate) fn total(&self) -> u16 {
        self.0.iter().flatten().map(|&v| u16::from(v)).sum()
    }
}

/// Checks item count, presence (including skip logic) and allowed values, in form order.
pub(crate) fn validate<'a>(
    form: &Form,
    responses: &'a Responses,
) -> Result<Answers<'a>, MeasureError> {
    let instrument = form.instrument;
    let answers = responses.answers.as_slice();
    if answers.len() != form.items.len() {
        return Err(MeasureError::WrongItemCount {
            instrument,
            expected: form.items.len(),
            got: answers.len(),
        });
    }
    let always_why = if form.items.iter().all(|i| i.asked == Asked::Always) {
        format!("all {} items are required", form.items.len())
    } else {
        "this item is always asked".to_owned()
    };
    for (item, answer) in form.items.iter().zip(answers) {
        let required = match item.asked {
            Asked::Always => Some(always_why.clone()),
            Asked::Optional => None,
            Asked::OnlyIf {
                item: opener,
                answer: opening,
            } => {
                let condition = form.condition(opener, opening);
                let is_asked = answers.get(opener).copied().flatten() == Some(opening);
                if !is_asked && answer.is_some() {
                    return Err(MeasureError::NotAsked {
                        instrument,
                        item: item.id,
                        condition,
                    });
                }
                is_asked.then(|| format!("asked because {condition}"))
            }
        };
        match (answer, required) {
            (None, Some(why)) => {
                return Err(MeasureError::MissingAnswer {
                    instrument,
                    item: item.id,
                    why,
                })
            }
            (Some(value), _) if !item.allows(*value) => {
                return Err(MeasureError::NotAllowed {
                    instrument,
                    item: item.id,
                    value: *value,
                    allowed: item.allowed_values(),
                })
            }
            _ => {}
        }
    }
    Ok(Answers(answers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_form_is_well_formed() {
        for instrument in Instrument::ALL {
            let form = instrument.form();
            let ids: HashSet<&str> = form.items.iter().map(|i| i.id).collect();
            assert_eq!(ids.len(), form.items.len(), "{instrument}: duplicate ids");
            for (pos, item) in form.items.iter().enumerate() {
                assert!(!item.options.is_empty(), "{instrument} {}", item.id);
                assert!(!item.label.is_empty(), "{instrument} {}", item.id);
                if let Asked::OnlyIf {
                    item: opener,
                    answer,
                } = item.asked
                {
                    // The opening item must come first and offer the opening answer.
                    assert!(opener < pos, "{instrument} {}", item.id);
                    assert!(
                        form.items[opener].allows(answer),
                        "{instrument} {}",
                        item.id
                    );
                }
            }
        }
    }

    #[test]
    fn allowed_values_read_naturally() {
        const ZERO_TWO_FOUR: [AnswerOption; 3] = [
            AnswerOption::new(0, "a"),
            AnswerOption::new(2, "b"),
            AnswerOption::new(4, "c"),
        ];
        const ZERO_FOUR: [AnswerOption; 2] = [AnswerOption::new(0, "a"), AnswerOption::new(4, "b")];
        const YES_NO: [AnswerOption; 2] = [AnswerOption::new(0, "a"), AnswerOption::new(1, "b")];
        assert_eq!(
            FormItem::new("1", "x", &ZERO_TWO_FOUR).allowed_values(),
            "0, 2 or 4"
        );
        assert_eq!(
            FormItem::new("1", "x", &ZERO_FOUR).allowed_values(),
            "0 or 4"
        );
        assert_eq!(FormItem::new("1", "x", &YES_NO).allowed_values(), "0–1");
    }
}
