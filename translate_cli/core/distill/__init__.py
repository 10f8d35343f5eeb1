"""Distillation wing: a teacher model's translations of the training corpora's source side, written as
corpora that `prepare` then cleans and binarises for a student (sequence-level knowledge distillation,
Kim & Rush, 2016): resumable, cached by the teacher's weights and the data, on the fastest backend the
teacher has.

Uses the ct2 wing: choosing and loading the teacher's backend (its CTranslate2 export when there is one)."""
