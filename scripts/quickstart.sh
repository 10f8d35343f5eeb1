#!/usr/bin/env bash
# The whole main job on the bundled sample corpus, offline, in about 5 minutes on 2 CPU cores:
# prepare, train an English→{Hindi, Japanese} model, translate a few sentences into both languages,
# and evaluate it on the sample test split.
#   bash scripts/quickstart.sh [key=value ...]    (overrides go to prepare and train, e.g. train.max_steps=300)
# Set TCLI_WORK_DIR to put the run somewhere other than runs/quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
config=configs/quickstart.yaml
work=${TCLI_WORK_DIR:-runs/quickstart}
overrides=("work_dir=$work" "data_dir=$work/data" "$@")

tcli prepare "$config" "${overrides[@]}"
tcli train "$config" "${overrides[@]}" --overwrite

examples="Where is the station?
The train leaves at 7:45.
Please send me the report by Friday.
The model translates one sentence at a time."
for lang in hi ja; do
  echo
  echo "== English → $lang =="
  printf '%s\n' "$examples" | tcli translate "$work/best" --to "$lang" | paste <(printf '%s\n' "$examples") -
done
for lang in hi ja; do
  echo
  tcli evaluate "$work/best" --to "$lang" --src data/sample/test.en --ref "data/sample/test.$lang" \
    --json "$work/test-scores.$lang.json"
done
