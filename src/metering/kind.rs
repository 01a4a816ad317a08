//! What the main app counts: articles, images and social posts.

crate::text_enum!(
    /// A kind of generated content, as the API names it.
    UsageKind { Article => "article", Image => "image", SocialPost => "social_post" }
);

impl UsageKind {
    /// The key of this kind in a plan's limits and in the counters' columns.
    pub fn plural(self) -> &'static str {
        match self {
            UsageKind::Article => "articles",
            UsageKind::Image => "images",
            UsageKind::SocialPost => "social_posts",
        }
    }

    /// Its place in per-kind arrays (`[articles, images, social_posts]`).
    pub fn index(self) -> usize {
        match self {
            UsageKind::Article => 0,
            UsageKind::Image => 1,
            UsageKind::SocialPost => 2,
        }
    }
}
