//! Name material for generated users. A million users need variety: with a
//! few dozen names, every fragment is common and search costs look nothing
//! like production. First names are real; last names and companies are
//! combined from parts (about 1,500 and 1,600 of them).

pub const FIRST: &[&str] = &[
    "Adam",
    "Adèle",
    "Agathe",
    "Alexandre",
    "Alice",
    "Aline",
    "Amandine",
    "Amélie",
    "Amine",
    "Anaïs",
    "André",
    "Anne",
    "Antoine",
    "Arthur",
    "Aurélie",
    "Axel",
    "Baptiste",
    "Bastien",
    "Benoît",
    "Bérénice",
    "Brigitte",
    "Bruno",
    "Camille",
    "Capucine",
    "Carla",
    "Caroline",
    "Cédric",
    "Céline",
    "Charles",
    "Charlotte",
    "Chloé",
    "Christophe",
    "Claire",
    "Clément",
    "Colette",
    "Corentin",
    "Damien",
    "Daniel",
    "David",
    "Denis",
    "Diane",
    "Dylan",
    "Edgar",
    "Édouard",
    "Éléonore",
    "Élise",
    "Élodie",
    "Emma",
    "Enzo",
    "Éric",
    "Estelle",
    "Ethan",
    "Eva",
    "Fabien",
    "Fanny",
    "Farid",
    "Fatima",
    "Félix",
    "Florence",
    "Florian",
    "Gabriel",
    "Gaëlle",
    "Gaspard",
    "Georges",
    "Gilles",
    "Guillaume",
    "Hadrien",
    "Hélène",
    "Henri",
    "Hugo",
    "Ibrahim",
    "Inès",
    "Irène",
    "Isabelle",
    "Jade",
    "Jean",
    "Jeanne",
    "Jérôme",
    "Joséphine",
    "Jules",
    "Julie",
    "Julien",
    "Justine",
    "Karim",
    "Kevin",
    "Laetitia",
    "Laura",
    "Laurent",
    "Léa",
    "Léon",
    "Léonie",
    "Lina",
    "Lisa",
    "Louis",
    "Louise",
    "Luc",
    "Lucas",
    "Lucie",
    "Madeleine",
    "Malik",
    "Manon",
    "Marc",
    "Margaux",
    "Marie",
    "Marius",
    "Martin",
    "Mathilde",
    "Maxime",
    "Mehdi",
    "Mélanie",
    "Mila",
    "Mohamed",
    "Morgane",
    "Nadia",
    "Nathalie",
    "Nathan",
    "Nicolas",
    "Nina",
    "Noah",
    "Noémie",
    "Océane",
    "Olivier",
    "Pascal",
    "Patrick",
    "Paul",
    "Pauline",
    "Philippe",
    "Pierre",
    "Quentin",
    "Rachid",
    "Raphaël",
    "Rémi",
    "Romain",
    "Rose",
    "Sacha",
    "Salomé",
    "Samuel",
    "Sandrine",
    "Sarah",
    "Sébastien",
    "Simon",
    "Sofia",
    "Sophie",
    "Stéphane",
    "Sylvie",
    "Théo",
    "Thomas",
    "Timothée",
    "Tom",
    "Ulysse",
    "Valentin",
    "Valérie",
    "Victor",
    "Vincent",
    "Wendy",
    "Xavier",
    "Yanis",
    "Yasmine",
    "Yves",
    "Zoé",
];

const LAST_HEADS: &[&str] = &[
    "Ber", "Dub", "Mar", "Lef", "Gar", "Rou", "Fon", "Bla", "Gir", "Mor", "Lam", "Bon", "Che",
    "Dur", "Fau", "Gui", "Hen", "Jol", "Lac", "Mal", "Nic", "Pel", "Rem", "Sab", "Tes", "Vid",
    "Wal", "Bou", "Cha", "Del", "Est", "Fer", "Gal", "Her", "Lau", "Mic", "Pas", "Rig", "Ser",
    "Tho", "Val", "Bar", "Cor", "Dom", "Fab", "Gre", "Lem", "Mon", "Per", "Ros",
];
const LAST_TAILS: &[&str] = &[
    "ard", "ois", "tin", "ier", "eau", "elle", "and", "ot", "in", "et", "ault", "ou", "eron",
    "ais", "ille", "on", "ac", "y", "ez", "ert", "ange", "iot", "aud", "el", "oux", "enne", "at",
    "ul", "ès", "igny",
];

const COMPANY_KINDS: &[&str] = &[
    "Atelier",
    "Studio",
    "Maison",
    "Agence",
    "Café",
    "Librairie",
    "Boulangerie",
    "Cabinet",
    "Garage",
    "Ferme",
    "Galerie",
    "Institut",
    "Clinique",
    "Éditions",
    "Imprimerie",
    "Jardins",
    "Bistrot",
    "Comptoir",
    "Domaine",
    "Collectif",
    "Laboratoire",
    "Fromagerie",
    "Pharmacie",
    "Auberge",
    "Menuiserie",
    "Cave",
    "École",
    "Théâtre",
    "Club",
    "Salon",
    "Boutique",
    "Conseil",
    "Voyages",
    "Immobilier",
    "Transports",
    "Optique",
    "Fleurs",
    "Sport",
    "Musique",
    "Yoga",
];
const COMPANY_WORDS: &[&str] = &[
    "du Lac",
    "des Lilas",
    "Lumière",
    "Nova",
    "Horizon",
    "Rivage",
    "Azur",
    "Bleu",
    "des Alpes",
    "Océane",
    "du Port",
    "Saint-Martin",
    "de la Gare",
    "Zéphyr",
    "Émeraude",
    "Boréal",
    "des Vignes",
    "Mistral",
    "Étoile",
    "du Centre",
    "Oréade",
    "Pixel",
    "Quai Ouest",
    "Terre & Vin",
    "Urbain",
    "Val Fleuri",
    "Belle Île",
    "Cerise",
    "Olympe",
    "Grand Est",
];
const WEBMAIL: &[&str] = &[
    "gmail.com",
    "outlook.fr",
    "free.fr",
    "orange.fr",
    "yahoo.fr",
    "laposte.net",
    "proton.me",
];

/// Last names built from two parts.
pub fn last_names() -> Vec<String> {
    LAST_HEADS
        .iter()
        .flat_map(|h| LAST_TAILS.iter().map(move |t| format!("{h}{t}")))
        .collect()
}

/// (company, mail domain); about one user in three uses a webmail address
/// and no company.
pub fn companies() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = COMPANY_KINDS
        .iter()
        .flat_map(|k| {
            COMPANY_WORDS
                .iter()
                .map(move |w| (format!("{k} {w}"), domain(k, w)))
        })
        .collect();
    let firms = out.len();
    out.extend((0..firms / 2).map(|i| (String::new(), WEBMAIL[i % WEBMAIL.len()].to_owned())));
    out
}

fn domain(kind: &str, word: &str) -> String {
    let slug: String = format!("{kind}-{word}")
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' => 'e',
            'î' => 'i',
            'ô' => 'o',
            'a'..='z' | '0'..='9' => c,
            _ => '-',
        })
        .collect();
    let slug = slug
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    format!("{slug}.fr")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_variety() {
        assert!(FIRST.len() >= 150);
        assert!(last_names().len() >= 1_500);
        let companies = companies();
        assert!(companies.len() >= 1_800);
        assert_eq!(domain("Café", "Terre & Vin"), "cafe-terre-vin.fr");
    }
}
