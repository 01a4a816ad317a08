//! One schema for both engines: `BigInt` ids, `Timestamp` holding UTC, text
//! enums checked by the database, `Text` JSON documents (portable and readable
//! in either engine's shell).

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        email_lower -> Text,
        name -> Text,
        company -> Text,
        password_hash -> Nullable<Text>,
        user_type -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        status_changed_at -> Nullable<Timestamp>,
        totp_secret -> Nullable<Text>,
        totp_enabled -> Bool,
        totp_last_step -> Nullable<BigInt>,
        locale -> Nullable<Text>,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        name_sort -> Text,
        last_login_sort -> Timestamp,
        erased_at -> Nullable<Timestamp>,
        search_keys -> Nullable<Text>,
        login_failures -> Integer,
        login_window_start -> Nullable<Timestamp>,
        locked_until -> Nullable<Timestamp>,
        signup_client_id -> Nullable<Text>,
    }
}

diesel::table! {
    roles (id) {
        id -> BigInt,
        key -> Text,
        name_en -> Text,
        name_fr -> Text,
        scope -> Text,
        built_in -> Bool,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    role_permissions (role_id, permission) {
        role_id -> BigInt,
        permission -> Text,
    }
}

diesel::table! {
    user_roles (user_id, role_id) {
        user_id -> BigInt,
        role_id -> BigInt,
        granted_at -> Timestamp,
        granted_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    workspaces (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        is_base -> Bool,
        settings -> Text,
        created_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        archived_at -> Nullable<Timestamp>,
        two_factor_required -> Bool,
        member_count -> BigInt,
        manager_count -> BigInt,
    }
}

diesel::table! {
    workspace_members (workspace_id, user_id) {
        workspace_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_type -> Text,
        actor_id -> Nullable<BigInt>,
        actor_label -> Text,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        workspace_id -> Nullable<BigInt>,
        outcome -> Text,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        client_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        details -> Text,
        seq -> Nullable<BigInt>,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
        personal_digest -> Nullable<Text>,
        personal_salt -> Nullable<Text>,
        ip_key -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain (id) {
        id -> BigInt,
        head_seq -> BigInt,
        head_hash -> Text,
        base_seq -> BigInt,
        base_hash -> Text,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> Nullable<BigInt>,
        data -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        mfa_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_events (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        client_id -> Text,
        event -> Text,
        success -> Bool,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    one_time_tokens (id) {
        id -> BigInt,
        token_hash -> Text,
        purpose -> Text,
        user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        sealed_token -> Nullable<Text>,
    }
}

diesel::table! {
    shared_state (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    rate_counters (bucket, window_start) {
        bucket -> Text,
        window_start -> BigInt,
        hits -> Integer,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    comments (id) {
        id -> BigInt,
        subject_type -> Text,
        subject_id -> BigInt,
        author_id -> Nullable<BigInt>,
        author_label -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tasks (id) {
        id -> BigInt,
        kind -> Text,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        run_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        checkpoint -> Nullable<Text>,
        done -> BigInt,
        total -> Nullable<BigInt>,
        errors -> BigInt,
        step -> Text,
        last_error -> Nullable<Text>,
        result -> Nullable<Text>,
        cancel_requested -> Bool,
        created_by -> Nullable<BigInt>,
        dedupe_key -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    task_outputs (task_id, seq) {
        task_id -> BigInt,
        seq -> Integer,
        body -> Text,
    }
}

diesel::table! {
    user_preferences (user_id, name) {
        user_id -> BigInt,
        name -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    saved_views (id) {
        id -> BigInt,
        user_id -> BigInt,
        screen -> Text,
        name -> Text,
        query -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        previous_hash -> Nullable<Text>,
        previous_until -> Nullable<Timestamp>,
        scopes -> Text,
        client_id -> Text,
        owner_id -> BigInt,
        expires_at -> Nullable<Timestamp>,
        rate_per_minute -> Integer,
        monthly_quota -> BigInt,
        created_at -> Timestamp,
        created_by -> Nullable<BigInt>,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        last_used_ip -> Nullable<Text>,
    }
}

diesel::table! {
    api_key_usage (key_id, minute) {
        key_id -> BigInt,
        minute -> Timestamp,
        requests -> BigInt,
        throttled -> BigInt,
    }
}

diesel::table! {
    api_key_months (key_id, month) {
        key_id -> BigInt,
        month -> Text,
        requests -> BigInt,
    }
}

diesel::table! {
    api_idempotency (key_id, idem_key) {
        key_id -> BigInt,
        idem_key -> Text,
        request_hash -> Text,
        status -> Integer,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    plans (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        price_cents -> BigInt,
        currency -> Text,
        billing_interval -> Text,
        limits -> Text,
        overage -> Text,
        stripe_price_id -> Nullable<Text>,
        active -> Bool,
        is_default -> Bool,
        archived_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> BigInt,
        user_id -> BigInt,
        plan_id -> BigInt,
        status -> Text,
        stripe_customer_id -> Nullable<Text>,
        stripe_subscription_id -> Nullable<Text>,
        current_period_start -> Nullable<Timestamp>,
        current_period_end -> Nullable<Timestamp>,
        cancel_at_period_end -> Bool,
        stripe_state_at -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        stripe_item_id -> Nullable<Text>,
        stripe_price_id -> Nullable<Text>,
    }
}

diesel::table! {
    stripe_events (id) {
        id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        customer_id -> Nullable<Text>,
        object_id -> Nullable<Text>,
        stripe_created -> BigInt,
        livemode -> Bool,
        payload -> Text,
        status -> Text,
        result -> Nullable<Text>,
        attempts -> Integer,
        received_at -> Timestamp,
        processed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    job_stream_cursors (queue) {
        queue -> Text,
        last_id -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    job_errors (id) {
        id -> BigInt,
        queue -> Text,
        fingerprint -> Text,
        message -> Text,
        failures -> BigInt,
        first_at -> Timestamp,
        last_at -> Timestamp,
    }
}

diesel::table! {
    job_failures (id) {
        id -> BigInt,
        queue -> Text,
        job_id -> Text,
        job_name -> Text,
        user_id -> Nullable<BigInt>,
        error_id -> BigInt,
        message -> Text,
        stacktrace -> Nullable<Text>,
        attempt -> Integer,
        failed_at -> Timestamp,
        job_created_at -> Nullable<Timestamp>,
        payload -> Text,
        dedupe -> Text,
    }
}

diesel::table! {
    job_minutes (queue, minute) {
        queue -> Text,
        minute -> BigInt,
        completed -> BigInt,
        failed -> BigInt,
        wait_hist -> Text,
        run_hist -> Text,
    }
}

diesel::table! {
    job_runs (id) {
        id -> BigInt,
        queue -> Text,
        job_id -> Text,
        job_name -> Text,
        user_id -> BigInt,
        state -> Text,
        finished_at -> Timestamp,
        dedupe -> Text,
    }
}

diesel::table! {
    job_alert_state (queue, rule) {
        queue -> Text,
        rule -> Text,
        firing -> Bool,
        notified -> Bool,
        pending_since -> Nullable<Timestamp>,
        last_sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    job_alerts (id) {
        id -> BigInt,
        queue -> Text,
        rule -> Text,
        kind -> Text,
        figures -> Text,
        message -> Text,
        delivery -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(job_failures -> job_errors (error_id));

diesel::table! {
    usage_counters (user_id, period) {
        user_id -> BigInt,
        period -> Text,
        articles -> BigInt,
        images -> BigInt,
        social_posts -> BigInt,
        level -> Integer,
    }
}

diesel::table! {
    usage_events (id) {
        id -> BigInt,
        idempotency_key -> Text,
        user_id -> BigInt,
        kind -> Text,
        amount -> BigInt,
        period -> Text,
        counted -> Bool,
        overage -> BigInt,
        status -> Integer,
        used -> BigInt,
        quota_limit -> Nullable<BigInt>,
        key_id -> Nullable<BigInt>,
        client_id -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    quota_overrides (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        mode -> Text,
        amount -> BigInt,
        reason -> Text,
        expires_at -> Nullable<Timestamp>,
        created_by -> Nullable<BigInt>,
        created_by_label -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        permission -> Text,
        kind -> Text,
        subject_user_id -> Nullable<BigInt>,
        details -> Text,
        dedupe_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_seen (user_id) {
        user_id -> BigInt,
        seen_up_to -> BigInt,
    }
}

diesel::table! {
    overage_reports (period, user_id, kind) {
        period -> Text,
        user_id -> BigInt,
        kind -> Text,
        plan_id -> BigInt,
        used -> BigInt,
        quota -> BigInt,
        overage -> BigInt,
        unit_cents -> Nullable<BigInt>,
        amount_cents -> BigInt,
        currency -> Text,
        stripe_invoice_item_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    period_closes (period) {
        period -> Text,
        closed_at -> Timestamp,
        users -> BigInt,
        amount_cents -> BigInt,
    }
}

diesel::joinable!(api_key_usage -> api_keys (key_id));
diesel::joinable!(api_key_months -> api_keys (key_id));
diesel::joinable!(user_preferences -> users (user_id));
diesel::joinable!(saved_views -> users (user_id));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(role_permissions -> roles (role_id));
diesel::joinable!(workspace_members -> workspaces (workspace_id));
diesel::joinable!(workspace_members -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(task_outputs -> tasks (task_id));
diesel::joinable!(tasks -> users (created_by));
diesel::joinable!(subscriptions -> plans (plan_id));
diesel::joinable!(subscriptions -> users (user_id));
diesel::joinable!(usage_counters -> users (user_id));
diesel::joinable!(quota_overrides -> users (user_id));
diesel::joinable!(overage_reports -> plans (plan_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    api_keys,
    api_key_usage,
    api_key_months,
    api_idempotency,
    user_preferences,
    roles,
    role_permissions,
    user_roles,
    workspaces,
    workspace_members,
    audit_events,
    saved_views,
    sessions,
    login_events,
    one_time_tokens,
    recovery_codes,
    comments,
    outbox,
    tasks,
    task_outputs,
    shared_state,
    rate_counters,
    plans,
    subscriptions,
    usage_counters,
    usage_events,
    quota_overrides,
    notifications,
    notification_seen,
    overage_reports,
    period_closes,
    stripe_events,
    job_stream_cursors,
    job_errors,
    job_failures,
    job_minutes,
    job_runs,
    job_alert_state,
    job_alerts,
);
