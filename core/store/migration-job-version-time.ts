// When each kept job version was submitted (`corral job history` shows it as
// Nomad's "Submit Date"). The time is the RegisterJob command's `at`, which
// the log entry carries, so every replica stores the same value. Versions
// kept from before this column existed get the job's last submit time for
// its current version and 0 (unknown) for older ones.
export const JOB_VERSION_SUBMIT_TIME_MIGRATION = `
   ALTER TABLE job_versions ADD COLUMN submitted_at INTEGER NOT NULL DEFAULT 0;
   UPDATE job_versions SET submitted_at = (
     SELECT j.submitted_at FROM jobs j
      WHERE j.namespace = job_versions.namespace AND j.id = job_versions.job_id AND j.version = job_versions.version
   ) WHERE EXISTS (
     SELECT 1 FROM jobs j
      WHERE j.namespace = job_versions.namespace AND j.id = job_versions.job_id AND j.version = job_versions.version
   );`;
