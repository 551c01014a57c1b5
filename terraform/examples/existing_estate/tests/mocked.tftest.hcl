# A mocked `terraform test` of the example (real provider schemas, no API
# call); CI has no provider and does not run it. See
# terraform/modules/cioevents/tests/mocked.tftest.hcl for how to run it.

# Computed values the provider validates where they are used: a mock's
# random string is no IAM member or service account name.
mock_provider "google" {
  mock_resource "google_service_account" {
    defaults = {
      email  = "mock-account@my-project-id.iam.gserviceaccount.com"
      member = "serviceAccount:mock-account@my-project-id.iam.gserviceaccount.com"
      id     = "projects/my-project-id/serviceAccounts/mock-account@my-project-id.iam.gserviceaccount.com"
      name   = "projects/my-project-id/serviceAccounts/mock-account@my-project-id.iam.gserviceaccount.com"
    }
  }
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
}
mock_provider "google-beta" {}
mock_provider "archive" {}

variables {
  project_id = "estate-project"
}

run "estate_settings_reach_the_module" {
  command = apply

  assert {
    condition     = output.signing_keys_secret == "lifecycle-cio-webhook-signing-keys"
    error_message = "the example's name_prefix reaches the module"
  }
  assert {
    condition     = module.cioevents.events_table == "estate-project.cioevents.events"
    error_message = "the estate's project reaches the module"
  }
}
