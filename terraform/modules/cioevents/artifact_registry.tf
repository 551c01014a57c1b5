# The job image (internal/jobimage): the cioevents binary on an empty base,
# one image for the nightly backfill and any other job. The plan build of
# cloudbuild.yaml builds it from the source it plans, pushes it here by
# digest, and plans with that reference as job_image, so the jobs run the
# code that was reviewed and a plan never points at a tag that moved.
#
# The plan build pushes before it plans, so the repository must exist before
# the first Cloud Build deploy: docs/deploy.md step 3 creates it with the
# secrets (-target=module.cioevents.google_artifact_registry_repository.jobs).

variable "job_image" {
  description = "The job image pinned by digest (REPOSITORY/cioevents@sha256:...), built from this source by internal/jobimage and pushed to the job_image_repository output; cloudbuild.yaml's plan build sets it. The backfill job runs it unless backfill_image is set."
  type        = string
  default     = ""

  validation {
    condition     = var.job_image == "" || can(regex("^[a-z0-9.-]{1,253}(:[0-9]{1,5})?/[a-z0-9._/-]{1,500}@sha256:[a-f0-9]{64}$", var.job_image))
    error_message = "job_image must be an image reference pinned by digest (REPOSITORY@sha256:<64 hex digits>), as `go run ./internal/jobimage/cmd/jobimage -push` prints it."
  }
}

locals {
  # What a job runs: an explicit backfill_image wins (an image built
  # elsewhere), else the image the plan build pushed.
  job_image = var.backfill_image != "" ? var.backfill_image : var.job_image

  # Cloud Run pulls a job's image as its service agent, not as the job's own
  # account, so that agent is the one that needs read access.
  run_service_agent = "serviceAccount:service-${data.google_project.this.number}@serverless-robot-prod.iam.gserviceaccount.com"
}

resource "google_artifact_registry_repository" "jobs" {
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-jobs"
  format        = "DOCKER"
  description   = "cioevents job images (internal/jobimage), pushed by digest by the plan build of cloudbuild.yaml."

  depends_on = [google_project_service.enabled]
}

# Same-project pulls work through the agent's default role too; the explicit
# grant keeps working where an organisation trims service agents' roles.
resource "google_artifact_registry_repository_iam_member" "run_pulls_job_image" {
  project    = var.project_id
  location   = google_artifact_registry_repository.jobs.location
  repository = google_artifact_registry_repository.jobs.name
  role       = "roles/artifactregistry.reader"
  member     = local.run_service_agent

  depends_on = [google_project_service.enabled]
}
