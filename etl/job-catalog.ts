/**
 * The one list of built-in ETL jobs: importing this module registers them all. To add a job, define
 * it with defineJob() in its own file and add one import line here.
 */
import "./wordcount/job.js";
import "./jobs/compaction.js";

export { getJob, listJobs } from "./jobs.js";
