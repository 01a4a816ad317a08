DROP TABLE task_outputs;
DROP TABLE tasks;
