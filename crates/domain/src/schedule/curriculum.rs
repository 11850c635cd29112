//! Rolling-admission curriculum: a track cycles through an ordered list of topics and patients can
//! join at any session, so completion means covering every required topic once, wrapping around.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::ScheduleError;

/// One topic of the cycle ("Relapse prevention: triggers").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// Stable identifier.
    pub id: String,
    /// Title staff and patients see.
    pub title: String,
    /// Whether completion needs it.
    pub required: bool,
}

/// A track's topic cycle, in teaching order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Curriculum {
    topics: Vec<Topic>,
}

/// Where a patient stands in the cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurriculumProgress {
    /// Required topics not yet attended, in the order they next come up.
    pub missing: Vec<String>,
    /// Sessions from the next one until the last missing topic has been taught (0 when complete).
    pub sessions_to_complete: u64,
}

impl CurriculumProgress {
    /// Whether every required topic has been attended.
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }
}

impl Curriculum {
    /// A checked cycle: at least one topic, ids unique.
    pub fn new(topics: Vec<Topic>) -> Result<Self, ScheduleError> {
        if topics.is_empty() {
            return Err(ScheduleError::InvalidSetting(
                "a curriculum needs at least one topic".into(),
            ));
        }
        let mut seen = HashSet::new();
        if let Some(dup) = topics.iter().find(|t| !seen.insert(t.id.as_str())) {
            return Err(ScheduleError::InvalidSetting(format!(
                "topic {:?} appears twice in the curriculum",
                dup.id
            )));
        }
        Ok(Curriculum { topics })
    }

    /// The topics in teaching order.
    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    /// The topic of a session, counting sessions from 0 at the start of the first cycle.
    pub fn topic_at(&self, session_index: u64) -> &Topic {
        // `new` guarantees at least one topic, so the modulus is never zero.
        let len = self.topics.len() as u64;
        &self.topics[(session_index % len) as usize]
    }

    /// What a patient still needs, given the topic ids attended and the index of the next session.
    ///
    /// A patient who joined mid-cycle simply has the topics before their join point still missing;
    /// they come up after the cycle wraps, so `sessions_to_complete` counts through the wrap.
    pub fn progress(
        &self,
        attended: &[impl AsRef<str>],
        next_session_index: u64,
    ) -> CurriculumProgress {
        let attended: HashSet<&str> = attended.iter().map(AsRef::as_ref).collect();
        let mut missing = Vec::new();
        let mut sessions_to_complete = 0;
        for k in 0..self.topics.len() as u64 {
            let topic = self.topic_at(next_session_index.saturating_add(k));
            if topic.required && !attended.contains(topic.id.as_str()) {
                missing.push(topic.id.clone());
                sessions_to_complete = k + 1;
            }
        }
        CurriculumProgress {
            missing,
            sessions_to_complete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(n: usize) -> Curriculum {
        Curriculum::new(
            (1..=n)
                .map(|i| Topic {
                    id: format!("t{i}"),
                    title: format!("Topic {i}"),
                    required: i != 4,
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn nth_session_wraps_around_the_cycle() {
        let c = cycle(8);
        assert_eq!(c.topic_at(0).id, "t1");
        assert_eq!(c.topic_at(7).id, "t8");
        assert_eq!(c.topic_at(8).id, "t1");
        assert_eq!(c.topic_at(8 * 1000 + 5).id, "t6");
    }

    #[test]
    fn patient_joining_mid_cycle_must_finish_the_wrap_around() {
        let c = cycle(8);
        // Joined at session 5 (t6), attended t6 and t8 but missed t7; the next session is 8 (t1).
        let p = c.progress(&["t6", "t8"], 8);
        // t4 is optional, so it is not missing.
        assert_eq!(p.missing, vec!["t1", "t2", "t3", "t5", "t7"]);
        assert_eq!(p.sessions_to_complete, 7);
        assert!(!p.complete());

        // Once back round to t5, only t7 remains: it is two sessions away (t6, t7).
        let p = c.progress(&["t6", "t8", "t1", "t2", "t3", "t4", "t5"], 13);
        assert_eq!(p.missing, vec!["t7"]);
        assert_eq!(p.sessions_to_complete, 2);
    }

    #[test]
    fn all_required_topics_attended_is_complete() {
        let c = cycle(5);
        let p = c.progress(&["t1", "t2", "t3", "t5", "unknown"], 3);
        assert!(p.complete());
        assert_eq!(p.sessions_to_complete, 0);
    }

    #[test]
    fn empty_or_duplicated_curricula_are_refused() {
        assert_eq!(
            Curriculum::new(vec![]).unwrap_err().to_string(),
            "invalid setting: a curriculum needs at least one topic"
        );
        let t = Topic {
            id: "t1".into(),
            title: "Triggers".into(),
            required: true,
        };
        assert_eq!(
            Curriculum::new(vec![t.clone(), t]).unwrap_err().to_string(),
            "invalid setting: topic \"t1\" appears twice in the curriculum"
        );
    }
}
