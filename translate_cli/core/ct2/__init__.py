"""CTranslate2 wing: the export (`tcli export`), the runtime that searches an export without torch, the
export's quality check, and the choice between the native backend and an export (`--backend`)."""
