DROP INDEX users_type_created_idx;
DROP INDEX users_status_type_created_idx;
