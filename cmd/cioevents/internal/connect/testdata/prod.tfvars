project_id = "my-project"
# pinned so every instance loads the same keys
signing_keys_version = "3"
