"""Vocabularies of the demo collection generator (``collection_tree.demo``): the genre taxonomy, the
scenes (region > city > movement with an era and the genres it is known for), per-lineage sound
(BPM, energy, duration, descriptors) and word lists for titles, artists and labels.

Pure data. Genre titles are unique in the taxonomy and scene tags (countries, cities, movements)
unique among themselves, case-insensitively, because tree filters match tags by value.
"""

from __future__ import annotations

from dataclasses import dataclass

# --------------------------------------------------------------------------------------------- genres
# (root, ((branch, (leaf, ...)), ...), (leaf, ...)): branches with children first (House > Deep House >
# Lo-Fi House: tracks tagged only "House; Deep House" sit in the branch, in no leaf), then the leaves
# straight under the root (Techno > Minimal Techno).
GENRE_LINEAGES: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]], ...] = (
    ("House", (
        ("Deep House", ("Lo-Fi House", "Soulful House", "Jazzy House", "Dub House")),
        ("Chicago House", ("Acid House", "Ghetto House", "Jackin' House", "Hip House")),
        ("Garage House", ("New Jersey Garage", "Gospel House")),
        ("Tech House", ("Minimal Tech House", "Tribal Tech House")),
        ("French House", ("Filter House", "Disco House")),
        ("Electro House", ("Fidget House", "Complextro", "Big Room")),
    ), ("Progressive House", "Microhouse", "Afro House", "Outsider House", "Italo House", "Balearic House",
        "Hard House", "Tribal House")),
    ("Techno", (
        ("Hard Techno", ("Schranz", "Industrial Techno")),
    ), ("Detroit Techno", "Minimal Techno", "Romanian Minimal", "Dub Techno", "Acid Techno", "Hypnotic Techno",
        "Ambient Techno", "Bleep Techno", "Loop Techno", "Broken Techno", "Peak Time Techno", "Deep Techno",
        "Raw Techno", "Free Tekno")),
    ("Electro", (), ("Electro-Funk", "Detroit Electro", "Electroclash", "Freestyle", "Miami Bass", "Ghettotech")),
    ("Drum & Bass", (
        ("Jungle", ("Ragga Jungle", "Darkside Jungle", "Amen Jungle")),
    ), ("Liquid", "Neurofunk", "Techstep", "Jump-Up", "Atmospheric Drum & Bass", "Minimal Drum & Bass", "Halftime",
        "Drumfunk", "Sambass", "Autonomic")),
    ("Bass Music", (
        ("Dubstep", ("Deep Dubstep", "Brostep", "Post-Dubstep", "Riddim")),
        ("UK Garage", ("2-Step", "Speed Garage", "4x4 Garage", "Bassline", "Future Garage")),
    ), ("Grime", "UK Funky", "Wonky", "Footwork", "Juke", "Baltimore Club", "Jersey Club", "Deconstructed Club")),
    ("Breakbeat", (), ("Big Beat", "Nu Skool Breaks", "Florida Breaks", "Acid Breaks", "Broken Beat")),
    ("Hardcore", (), ("Breakbeat Hardcore", "Darkcore", "Happy Hardcore", "Gabber", "Frenchcore", "Hardstyle",
                      "UK Hardcore", "Breakcore", "Makina", "Bouncy Techno")),
    ("Trance", (
        ("Psytrance", ("Goa Trance", "Full-On", "Dark Psytrance", "Progressive Psytrance")),
    ), ("Progressive Trance", "Uplifting Trance", "Acid Trance", "Hard Trance", "Dream Trance", "Vocal Trance")),
    ("Ambient", (), ("Dark Ambient", "Drone", "Space Ambient", "New Age", "Ambient Pop", "Kankyō Ongaku",
                     "Ambient Dub", "Isolationism", "Field Recordings", "Berlin School", "Lowercase")),
    ("Downtempo", (
        ("Chillout", ("Balearic Beat", "Lounge")),
    ), ("Trip-Hop", "Nu Jazz", "Illbient", "Psybient", "Chillwave", "Folktronica")),
    ("Electronica", (), ("IDM", "Clicks & Cuts", "Braindance", "Drill 'n' Bass", "Glitch", "Indietronica",
                         "Glitch Hop")),
    ("Synth & Wave", (
        ("Synthwave", ("Outrun", "Darksynth")),
    ), ("EBM", "New Beat", "Aggrotech", "Synth-Pop", "Darkwave", "Coldwave", "Minimal Wave", "Vaporwave",
        "Witch House")),
    ("Disco", (
        ("Nu-Disco", ("Disco Edits", "Indie Dance")),
    ), ("Italo Disco", "Cosmic Disco", "Space Disco", "Boogie", "Euro Disco", "Hi-NRG", "Post-Disco", "Proto-Disco",
        "Afro-Disco")),
    ("Reggae", (
        ("Dancehall", ("Early Dancehall", "Digital Dancehall", "Ragga", "Bashment")),
    ), ("Roots Reggae", "Rocksteady", "Ska", "Lovers Rock")),
    ("Dub", (), ("Roots Dub", "Steppers", "Digital Dub", "Dub Poetry")),
    ("Soul", (
        ("Classic Soul", ("Northern Soul", "Deep Soul", "Southern Soul", "Chicago Soul", "Motown Sound")),
    ), ("Philly Soul", "Psychedelic Soul", "Modern Soul", "Neo Soul", "Quiet Storm", "Gospel")),
    ("Funk", (), ("Deep Funk", "P-Funk", "Go-Go", "Rare Groove", "New Orleans Funk", "Synth-Funk", "Library Funk")),
    ("Hip-Hop", (
        ("Golden Age Hip-Hop", ("Jazz Rap", "Conscious Hip-Hop")),
        ("Instrumental Hip-Hop", ("Lo-Fi Hip-Hop", "Beat Scene", "Abstract Hip-Hop", "Turntablism")),
        ("Southern Hip-Hop", ("Crunk", "Chopped & Screwed", "Memphis Rap", "Bounce")),
        ("West Coast Hip-Hop", ("G-Funk", "Hyphy")),
    ), ("Boom Bap", "Trap", "Drill", "UK Drill", "Old School Hip-Hop", "Cloud Rap", "Phonk", "Horrorcore")),
    ("Jazz", (
        ("Jazz Fusion", ("Jazz-Funk", "Jazz-Rock")),
    ), ("Hard Bop", "Soul Jazz", "Free Jazz", "Loft Jazz", "Spiritual Jazz", "Modal Jazz", "Bebop", "Cool Jazz",
        "Latin Jazz", "Ethio-Jazz", "South African Jazz", "Acid Jazz", "Chamber Jazz", "Vocal Jazz", "Post-Bop",
        "Brazilian Jazz")),
    ("Rock", (
        ("Punk", ("First Wave Punk", "Hardcore Punk", "Anarcho-Punk", "Oi!", "Pop Punk", "Post-Hardcore")),
        ("Indie Rock", ("Math Rock", "Slowcore", "Noise Pop", "C86", "Lo-Fi Indie")),
        ("Psychedelic Rock", ("Acid Rock", "Neo-Psychedelia", "Space Rock")),
    ), ("Krautrock", "Kosmische", "Garage Rock", "Garage Rock Revival", "Post-Punk", "Gothic Rock", "Dance-Punk",
        "No Wave", "Post-Punk Revival", "Shoegaze", "Post-Rock", "Britpop", "Madchester", "Grunge", "Noise Rock",
        "Stoner Rock", "Prog Rock")),
    ("Pop", (
        ("Indie Pop", ("Twee Pop",)),
    ), ("Dream Pop", "City Pop", "Shibuya-kei", "Sophisti-Pop", "Art Pop", "Hyperpop", "Bedroom Pop", "Electropop",
        "Chamber Pop", "Yacht Rock")),
    ("Latin", (), ("Cumbia", "Digital Cumbia", "Chicha", "Salsa", "Boogaloo", "Reggaeton", "Dembow", "Son Cubano",
                   "Tropical Bass")),
    ("Brazilian", (), ("Bossa Nova", "Samba", "MPB", "Tropicália", "Baile Funk", "Samba-Rock")),
    ("African", (), ("Afrobeat", "Afro-Funk", "Highlife", "Burger-Highlife", "Afrobeats", "Kwaito", "Amapiano", "Gqom",
                     "Kuduro", "Soukous")),
    ("Experimental", (
        ("Noise", ("Harsh Noise", "Japanoise")),
        ("Modern Classical", ("Neoclassical", "Minimalism")),
        ("Sound Collage", ("Plunderphonics",)),
    ), ("Industrial", "Power Electronics", "Musique Concrète", "Tape Music", "Electroacoustic")),
)


@dataclass(frozen=True)
class Sound:
    """How a lineage sounds: BPM range, energy range (1-10), duration range (s), descriptor pool."""

    bpm: tuple[int, int]
    energy: tuple[int, int]
    duration: tuple[int, int]
    descriptors: tuple[str, ...]
    artist_style: str = "band"  # electronic | band | hiphop | jazz | soul | reggae | world
    mixes: bool = False  # electronic titles sometimes carry "(Original Mix)" and the like
    no_bpm: float = 0.0  # share of tracks with no BPM (beatless music)


_ELEC_POOL = ("hypnotic", "driving", "warm pads", "rolling bassline", "303 squelch", "909 hats")
SOUND: dict[str, Sound] = {
    "House": Sound((118, 128), (5, 8), (330, 480), ("warm", "soulful vocals", "piano stabs", "jacking", "swung hats",
                   "rolling bassline", "chord stabs", "filtered disco loop", "dusty", "organ bass", "303 squelch",
                   "deep pads"), "electronic", True),
    "Techno": Sound((125, 138), (6, 9), (360, 540), ("hypnotic", "303 squelch", "industrial", "pounding kick",
                    "metallic percussion", "dub chords", "rumbling low end", "909 hats", "stripped-back",
                    "relentless", "dark", "loopy"), "electronic", True),
    "Electro": Sound((118, 132), (6, 8), (270, 400), ("808 cowbell", "robotic vocals", "vocoder", "breakdance",
                     "snappy snares", "cold synths", "futuristic", "808 kicks"), "electronic", True),
    "Drum & Bass": Sound((170, 176), (6, 9), (300, 420), ("rolling bassline", "amen break", "reese bass",
                         "chopped breaks", "lush pads", "soulful vocals", "rewind", "clinical", "jazzy chords",
                         "dark"), "electronic", True),
    "Bass Music": Sound((130, 142), (6, 9), (240, 380), ("sub bass", "wobble", "shuffled drums", "skippy beats",
                        "pitched vocals", "dark", "half-step", "garage swing", "eski synths", "808 kicks"),
                        "electronic", True),
    "Breakbeat": Sound((125, 138), (6, 8), (270, 420), ("chopped breaks", "big beat drums", "funky", "acid line",
                       "rave stabs", "broken rhythms", "rolling bassline"), "electronic", True),
    "Hardcore": Sound((160, 190), (8, 10), (240, 360), ("distorted kick", "rave stabs", "euphoric", "hoover synth",
                      "pitched-up vocals", "relentless", "amen break", "dark"), "electronic", True),
    "Trance": Sound((132, 142), (7, 9), (420, 600), ("euphoric", "supersaw", "rolling bassline", "psychedelic",
                    "acid line", "big breakdown", "hypnotic", "twisted", "uplifting"), "electronic", True),
    "Ambient": Sound((60, 100), (1, 3), (300, 900), ("drifting", "spacious", "tape hiss", "field recordings",
                     "glacial", "meditative", "dark", "warm", "shimmering", "drone"), "electronic", False, 0.5),
    "Downtempo": Sound((80, 105), (2, 5), (240, 420), ("dusty", "smoky", "melancholic", "hazy", "jazzy chords",
                       "lush pads", "vinyl crackle", "laid-back", "cinematic"), "electronic"),
    "Electronica": Sound((90, 140), (3, 7), (240, 420), ("glitchy", "melodic", "skittering beats", "melancholic",
                         "playful", "detuned synths", "intricate", "crunchy"), "electronic"),
    "Synth & Wave": Sound((100, 130), (4, 7), (210, 330), ("cold synths", "drum machine", "melancholic",
                          "analog", "neon", "retro", "dark", "gated reverb", "arpeggios"), "band"),
    "Disco": Sound((110, 126), (6, 8), (300, 480), ("four-on-the-floor", "strings", "slap bass", "cosmic",
                   "arpeggios", "euphoric", "groovy", "handclaps", "funky", "warm"), "electronic", True),
    "Reggae": Sound((66, 90), (4, 6), (180, 300), ("one drop", "skank guitar", "deep bass", "conscious lyrics",
                    "toasting", "riddim", "warm", "rootsy"), "reggae"),
    "Dub": Sound((66, 90), (3, 5), (210, 420), ("deep bass", "tape echo", "spring reverb", "riddim", "spacious",
                 "rootsy", "dubwise"), "reggae"),
    "Soul": Sound((70, 120), (4, 7), (150, 270), ("horn section", "soulful vocals", "strings", "warm", "gospel choir",
                  "tambourine", "heartfelt", "lush"), "soul"),
    "Funk": Sound((95, 118), (6, 8), (180, 360), ("slap bass", "tight drums", "horn section", "funky", "wah guitar",
                  "breakbeat", "groovy", "raw"), "soul"),
    "Hip-Hop": Sound((80, 100), (4, 7), (170, 270), ("boom bap drums", "dusty", "sampled soul", "jazzy chords",
                     "808 kicks", "hard-hitting", "lo-fi", "vinyl crackle", "scratches", "conscious lyrics"),
                     "hiphop"),
    "Jazz": Sound((90, 200), (3, 7), (240, 720), ("modal", "saxophone", "upright bass", "spiritual", "improvised",
                  "brushed drums", "smoky", "Rhodes", "horn section", "warm"), "jazz"),
    "Rock": Sound((100, 160), (5, 9), (150, 330), ("jangly guitars", "distorted guitars", "angular", "driving",
                  "fuzz", "melancholic", "raw", "reverb-drenched", "wall of sound", "noisy"), "band"),
    "Pop": Sound((95, 125), (4, 7), (180, 270), ("catchy", "dreamy", "lush", "glossy", "bittersweet", "breezy",
                 "reverb-drenched", "synth hooks"), "band"),
    "Latin": Sound((90, 130), (5, 8), (180, 330), ("percussive", "accordion", "guacharaca", "brass", "tropical",
                   "clave", "dembow rhythm", "psychedelic guitars"), "world"),
    "Brazilian": Sound((90, 130), (4, 7), (150, 300), ("nylon guitar", "breezy", "surdo", "tropical", "bittersweet",
                       "percussive", "psychedelic"), "world"),
    "African": Sound((100, 130), (6, 9), (240, 600), ("polyrhythmic", "horn section", "highlife guitar",
                     "log drum", "call and response", "percussive", "hypnotic"), "world"),
    "Experimental": Sound((60, 140), (1, 6), (180, 900), ("harsh", "abrasive", "tape loops", "textural", "found sound",
                          "minimal", "spacious", "dissonant"), "band", False, 0.6),
}

# Sub-genres whose tempo differs from their lineage's.
BPM_OVERRIDES: dict[str, tuple[int, int]] = {
    "Dub Techno": (116, 126), "Acid Techno": (135, 145), "Schranz": (145, 155), "Ambient Techno": (110, 128),
    "Halftime": (84, 88), "Footwork": (158, 162), "Juke": (156, 162), "Baltimore Club": (128, 132),
    "Jersey Club": (135, 142), "UK Funky": (128, 132), "2-Step": (130, 136), "Speed Garage": (132, 136),
    "Grime": (138, 142), "Wonky": (80, 100), "Gabber": (170, 200), "Frenchcore": (190, 210),
    "Hardstyle": (148, 152), "Happy Hardcore": (168, 178), "Makina": (160, 180), "Goa Trance": (140, 150),
    "Full-On": (142, 148), "Dark Psytrance": (146, 160), "Trip-Hop": (75, 98), "Balearic Beat": (96, 118),
    "Chillwave": (80, 110), "Psybient": (70, 100), "Hi-NRG": (124, 136), "Italo Disco": (115, 128),
    "Cosmic Disco": (100, 115), "Vaporwave": (60, 100), "Witch House": (60, 80), "Trap": (130, 150),
    "Drill": (136, 146), "UK Drill": (138, 144), "Chopped & Screwed": (60, 75), "Phonk": (120, 140),
    "Crunk": (70, 80), "Bounce": (95, 105), "Lo-Fi Hip-Hop": (70, 90), "Bebop": (180, 260),
    "Hardcore Punk": (160, 200), "First Wave Punk": (150, 180), "Slowcore": (60, 90), "Amapiano": (110, 115),
    "Gqom": (120, 126), "Kuduro": (128, 140), "Reggaeton": (88, 98), "Dembow": (110, 125),
    "Baile Funk": (125, 135), "Bossa Nova": (110, 140), "Miami Bass": (125, 140), "Ghettotech": (145, 160),
    "Big Beat": (100, 135), "Drill 'n' Bass": (160, 190), "Breakcore": (170, 250), "Glitch Hop": (95, 110),
    "Sambass": (170, 176), "Outrun": (100, 120), "Darksynth": (110, 130), "New Beat": (100, 115),
}

# ---------------------------------------------------------------------------------------------- scenes
# (region, (country, ...), ((city, country, ((movement, first year, last year, (genre leaf, ...)), ...)), ...)).
# A movement spanning ten years or more is split into era slices; a city of None (online movements)
# puts the movements straight under the region.
Movement = tuple[str, int, int, tuple[str, ...]]
City = tuple[str | None, str | None, tuple[Movement, ...]]
SCENE_REGIONS: tuple[tuple[str, tuple[str, ...], tuple[City, ...]], ...] = (
    ("Germany", ("Germany",), (
        ("Berlin", "Germany", (
            ("Berlin School", 1971, 1981, ("Berlin School", "Space Ambient", "Kosmische")),
            ("Tresor Techno", 1991, 1998, ("Hypnotic Techno", "Industrial Techno", "Acid Techno")),
            ("Berlin Dub Techno", 1993, 2005, ("Dub Techno", "Ambient Techno")),
            ("Berlin Minimal", 2000, 2008, ("Minimal Techno", "Microhouse", "Minimal Tech House", "Clicks & Cuts")),
            ("Berlin Electroclash", 2000, 2005, ("Electroclash", "Electropop")),
            ("Berghain Techno", 2004, 2016, ("Industrial Techno", "Hypnotic Techno", "Deep Techno",
                                             "Peak Time Techno")),
            ("Berlin Deep House", 2007, 2014, ("Dub House", "Jazzy House", "Deep Techno")),
            ("Berlin Hard Techno", 2018, 2023, ("Industrial Techno", "Schranz", "Peak Time Techno")),
        )),
        ("Cologne", "Germany", (
            ("Cologne Krautrock", 1968, 1977, ("Krautrock", "Kosmische")),
            ("Cologne Minimal", 1998, 2006, ("Microhouse", "Clicks & Cuts", "Minimal Techno")),
            ("Kompakt Pop Ambient", 2001, 2012, ("Ambient Pop", "Ambient Techno")),
            ("Cologne Electronic Studio", 1953, 1968, ("Electroacoustic", "Tape Music")),
        )),
        ("Düsseldorf", "Germany", (
            ("Düsseldorf Electronic", 1974, 1983, ("Synth-Pop", "Kosmische", "Minimal Wave")),
            ("Neue Deutsche Welle", 1979, 1985, ("Synth-Pop", "Coldwave", "Post-Punk")),
        )),
        ("Frankfurt", "Germany", (
            ("Frankfurt Trance", 1990, 1996, ("Acid Trance", "Progressive Trance", "Hard Trance")),
            ("Frankfurt Techno", 1989, 1995, ("Acid Techno", "Schranz")),
            ("Frankfurt Glitch", 1996, 2004, ("Glitch", "Clicks & Cuts", "Lowercase")),
        )),
        ("Hamburg", "Germany", (
            ("Burger-Highlife Scene", 1981, 1990, ("Burger-Highlife",)),
            ("Hamburger Schule", 1990, 2000, ("Noise Pop", "Lo-Fi Indie")),
        )),
        ("Munich", "Germany", (
            ("Munich Disco", 1975, 1983, ("Euro Disco", "Space Disco", "Hi-NRG")),
            ("Munich Electro", 1996, 2004, ("Electroclash", "Detroit Electro", "Italo Disco")),
        )),
        ("Leipzig", "Germany", (
            ("Leipzig Deep House", 2009, 2017, ("Outsider House", "Dub House", "Lo-Fi House")),
        )),
    )),
    ("UK", ("UK",), (
        ("London", "UK", (
            ("London Punk", 1976, 1979, ("First Wave Punk",)),
            ("London Post-Punk", 1978, 1984, ("Post-Punk", "Gothic Rock")),
            ("London Lovers Rock", 1975, 1984, ("Lovers Rock",)),
            ("UK Steppers", 1982, 1995, ("Steppers", "Dub Poetry", "Digital Dub")),
            ("London Sophisti-Pop", 1982, 1988, ("Sophisti-Pop",)),
            ("Rare Groove Revival", 1985, 1991, ("Rare Groove", "Deep Funk")),
            ("London Acid Jazz", 1987, 1996, ("Acid Jazz", "Jazz-Funk")),
            ("Second Summer of Love", 1988, 1990, ("Acid House", "Balearic House")),
            ("London Hardcore", 1990, 1993, ("Breakbeat Hardcore", "Darkcore")),
            ("London Jungle", 1992, 1997, ("Ragga Jungle", "Darkside Jungle", "Amen Jungle")),
            ("Britpop", 1993, 1998, ("Britpop",)),
            ("Mo' Wax Sound", 1994, 2000, ("Abstract Hip-Hop", "Trip-Hop")),
            ("London Techstep", 1996, 2001, ("Techstep", "Neurofunk")),
            ("UK Garage", 1997, 2003, ("2-Step", "Speed Garage", "4x4 Garage")),
            ("London Broken Beat", 1998, 2006, ("Broken Beat", "Nu Jazz")),
            ("London Grime", 2002, 2008, ("Grime",)),
            ("London Dubstep", 2004, 2010, ("Deep Dubstep", "Post-Dubstep")),
            ("UK Funky", 2008, 2011, ("UK Funky",)),
            ("London Drill", 2014, 2021, ("UK Drill",)),
            ("UK Jazz Revival", 2015, 2022, ("Spiritual Jazz", "Broken Beat", "Afro-Funk")),
        )),
        ("Bristol", "UK", (
            ("Bristol Post-Punk", 1978, 1983, ("Post-Punk", "Dance-Punk")),
            ("Bristol Sound", 1991, 1999, ("Trip-Hop",)),
            ("Bristol Drum & Bass", 1994, 2003, ("Atmospheric Drum & Bass", "Jump-Up", "Drumfunk")),
            ("Bristol Dubstep", 2006, 2012, ("Deep Dubstep", "Post-Dubstep")),
        )),
        ("Manchester", "UK", (
            ("Manchester Post-Punk", 1977, 1984, ("Post-Punk", "Coldwave")),
            ("Haçienda House", 1988, 1994, ("Acid House", "Italo House")),
            ("Madchester", 1988, 1992, ("Madchester",)),
        )),
        ("Sheffield", "UK", (
            ("Sheffield Synth", 1978, 1985, ("Synth-Pop", "Minimal Wave", "EBM")),
            ("Sheffield Bleep", 1989, 1993, ("Bleep Techno",)),
            ("Warp IDM", 1992, 2002, ("IDM", "Braindance", "Drill 'n' Bass")),
            ("Sheffield Bassline", 2002, 2009, ("Bassline",)),
        )),
        ("Birmingham", "UK", (
            ("Birmingham Techno", 1993, 2002, ("Loop Techno", "Industrial Techno")),
        )),
        ("Glasgow", "UK", (
            ("Glasgow Indie", 1985, 1996, ("C86", "Twee Pop", "Noise Pop")),
            ("Scottish Bouncy", 1996, 2004, ("Bouncy Techno", "Happy Hardcore")),
            ("Glasgow Wonky", 2008, 2013, ("Wonky",)),
        )),
        ("Brighton", "UK", (("Brighton Big Beat", 1995, 2000, ("Big Beat",)),)),
        ("Oxford", "UK", (("Thames Valley Shoegaze", 1988, 1994, ("Shoegaze", "Dream Pop")),)),
        ("Cornwall", "UK", (("Cornish Braindance", 1991, 2001, ("Braindance", "IDM", "Ambient Techno")),)),
        ("Wigan", "UK", (("Northern Soul Weekenders", 1970, 1981, ("Northern Soul", "Modern Soul")),)),
        ("Leeds", "UK", (("Leeds Goth", 1980, 1986, ("Gothic Rock", "Darkwave")),)),
    )),
    ("USA", ("USA",), (
        ("Detroit", "USA", (
            ("Motown Era", 1961, 1971, ("Motown Sound", "Northern Soul")),
            ("Detroit Proto-Punk", 1967, 1972, ("Garage Rock",)),
            ("Detroit Techno First Wave", 1985, 1989, ("Detroit Techno",)),
            ("Detroit Techno Second Wave", 1990, 1997, ("Detroit Techno", "Ambient Techno", "Hypnotic Techno")),
            ("Detroit Ghettotech", 1994, 2003, ("Ghettotech",)),
            ("Detroit Deep House", 1994, 2006, ("Jazzy House", "Soulful House", "Deep Techno")),
            ("Detroit Electro", 1995, 2004, ("Detroit Electro",)),
            ("Detroit Hip-Hop", 1996, 2006, ("Boom Bap", "Beat Scene")),
            ("Detroit Garage Revival", 1998, 2005, ("Garage Rock Revival",)),
        )),
        ("Chicago", "USA", (
            ("Chicago Soul", 1963, 1975, ("Chicago Soul",)),
            ("Chicago Free Jazz", 1966, 1976, ("Free Jazz", "Spiritual Jazz")),
            ("Wax Trax! Industrial", 1984, 1993, ("EBM", "Aggrotech", "Industrial")),
            ("Chicago Jack", 1984, 1989, ("Jackin' House",)),
            ("Chicago Acid", 1986, 1990, ("Acid House",)),
            ("Chicago Hip House", 1988, 1991, ("Hip House",)),
            ("Chicago Ghetto House", 1992, 2001, ("Ghetto House", "Juke")),
            ("Chicago Post-Rock", 1994, 2002, ("Post-Rock", "Math Rock")),
            ("Chicago Footwork", 2009, 2016, ("Footwork", "Juke")),
            ("Chicago Drill", 2011, 2016, ("Drill",)),
        )),
        ("New York", "USA", (
            ("New York Hard Bop", 1955, 1965, ("Hard Bop", "Soul Jazz", "Bebop")),
            ("New York Minimalism", 1964, 1978, ("Minimalism",)),
            ("New York Salsa", 1967, 1979, ("Salsa", "Boogaloo")),
            ("New York Loft Jazz", 1969, 1979, ("Loft Jazz", "Free Jazz", "Spiritual Jazz")),
            ("Loft Disco", 1972, 1979, ("Proto-Disco", "Afro-Disco")),
            ("Paradise Garage", 1977, 1987, ("Post-Disco", "Boogie")),
            ("No Wave", 1977, 1982, ("No Wave",)),
            ("Bronx Old School", 1979, 1985, ("Old School Hip-Hop", "Electro-Funk")),
            ("New York Freestyle", 1984, 1991, ("Freestyle",)),
            ("Golden Age New York", 1986, 1994, ("Jazz Rap", "Boom Bap", "Conscious Hip-Hop")),
            ("New York Deep House", 1990, 1998, ("Soulful House", "Tribal House")),
            ("Illbient", 1994, 2000, ("Illbient",)),
            ("New York Underground Rap", 1996, 2004, ("Conscious Hip-Hop", "Boom Bap", "Abstract Hip-Hop")),
            ("New York Dance-Punk", 2001, 2007, ("Dance-Punk", "Post-Punk Revival")),
            ("Brooklyn Indie", 2004, 2012, ("Art Pop", "Noise Pop", "Chillwave")),
        )),
        ("Newark", "USA", (
            ("New Jersey Garage", 1988, 1997, ("New Jersey Garage", "Gospel House")),
            ("Jersey Club", 2008, 2016, ("Jersey Club",)),
        )),
        ("Los Angeles", "USA", (
            ("West Coast Cool", 1952, 1960, ("Cool Jazz",)),
            ("LA Spiritual Jazz", 1968, 1977, ("Spiritual Jazz", "Modal Jazz")),
            ("LA Yacht Rock", 1976, 1984, ("Yacht Rock",)),
            ("LA Hardcore Punk", 1979, 1985, ("Hardcore Punk",)),
            ("Paisley Underground", 1981, 1988, ("Neo-Psychedelia",)),
            ("LA Electro", 1983, 1987, ("Electro-Funk",)),
            ("West Coast G-Funk", 1992, 1998, ("G-Funk",)),
            ("LA Beat Scene", 2006, 2014, ("Beat Scene", "Wonky", "Glitch Hop")),
            ("LA Jazz Revival", 2014, 2020, ("Spiritual Jazz", "Jazz-Funk")),
        )),
        ("San Francisco", "USA", (
            ("San Francisco Psychedelic", 1965, 1971, ("Acid Rock", "Psychedelic Soul")),
            ("San Francisco Hi-NRG", 1978, 1985, ("Hi-NRG",)),
            ("Bay Area Turntablism", 1995, 2002, ("Turntablism",)),
            ("Bay Area Hyphy", 2004, 2008, ("Hyphy",)),
        )),
        ("Seattle", "USA", (("Seattle Grunge", 1988, 1995, ("Grunge",)),)),
        ("Olympia", "USA", (("Olympia Twee", 1990, 1998, ("Twee Pop", "Lo-Fi Indie")),)),
        ("Washington", "USA", (
            ("DC Go-Go", 1976, 1990, ("Go-Go",)),
            ("DC Hardcore", 1980, 1986, ("Hardcore Punk",)),
            ("DC Post-Hardcore", 1987, 1995, ("Post-Hardcore",)),
        )),
        ("Philadelphia", "USA", (
            ("Philly Soul", 1968, 1978, ("Philly Soul",)),
            ("Philly Neo Soul", 1996, 2004, ("Neo Soul",)),
        )),
        ("Memphis", "USA", (
            ("Memphis Soul", 1962, 1972, ("Southern Soul", "Deep Soul")),
            ("Memphis Rap", 1991, 1998, ("Memphis Rap", "Horrorcore")),
        )),
        ("Houston", "USA", (("Houston Screw", 1993, 2005, ("Chopped & Screwed",)),)),
        ("Atlanta", "USA", (
            ("Atlanta Crunk", 2000, 2006, ("Crunk",)),
            ("Atlanta Trap", 2003, 2012, ("Trap",)),
        )),
        ("New Orleans", "USA", (
            ("New Orleans Funk", 1967, 1977, ("New Orleans Funk",)),
            ("New Orleans Bounce", 1991, 2005, ("Bounce",)),
        )),
        ("Miami", "USA", (("Miami Bass", 1985, 1992, ("Miami Bass",)),)),
        ("Baltimore", "USA", (("Baltimore Club", 1991, 2008, ("Baltimore Club",)),)),
        ("Louisville", "USA", (("Louisville Slowcore", 1988, 1996, ("Slowcore", "Math Rock")),)),
        ("Orlando", "USA", (("Florida Breaks", 1994, 2002, ("Florida Breaks",)),)),
        ("Minneapolis", "USA", (("Minneapolis Sound", 1979, 1988, ("Synth-Funk",)),)),
    )),
    ("France", ("France",), (
        ("Paris", "France", (
            ("Paris Musique Concrète", 1948, 1965, ("Musique Concrète", "Tape Music")),
            ("French Coldwave", 1979, 1986, ("Coldwave", "Minimal Wave")),
            ("Paris Soukous", 1982, 1992, ("Soukous",)),
            ("French Touch", 1996, 2002, ("Filter House", "Disco House")),
            ("Paris Downtempo", 1997, 2003, ("Lounge", "Nu Jazz")),
            ("Ed Banger Electro", 2005, 2011, ("Complextro", "Fidget House")),
            ("French Synthwave", 2008, 2014, ("Outrun", "Darksynth")),
        )),
    )),
    ("Benelux", ("Belgium", "Netherlands"), (
        ("Brussels", "Belgium", (
            ("Belgian EBM", 1982, 1991, ("EBM",)),
            ("New Beat", 1986, 1990, ("New Beat",)),
        )),
        ("Ghent", "Belgium", (("R&S Techno", 1989, 1996, ("Peak Time Techno", "Acid Techno")),)),
        ("Rotterdam", "Netherlands", (
            ("Rotterdam Gabber", 1992, 1999, ("Gabber",)),
            ("Dutch Hardstyle", 2002, 2012, ("Hardstyle",)),
            ("Frenchcore Scene", 2010, 2020, ("Frenchcore",)),
        )),
        ("The Hague", "Netherlands", (("Hague Electro", 1995, 2006, ("Detroit Electro", "Electroclash")),)),
        ("Amsterdam", "Netherlands", (
            ("Dutch Trance", 1998, 2008, ("Uplifting Trance", "Vocal Trance", "Progressive Trance")),
            ("Amsterdam Big Room", 2011, 2016, ("Big Room",)),
        )),
    )),
    ("Italy", ("Italy",), (
        ("Milan", "Italy", (
            ("Italo Disco", 1979, 1988, ("Italo Disco",)),
            ("Italo House", 1988, 1993, ("Italo House",)),
        )),
        ("Lake Garda", "Italy", (("Cosmic Disco", 1979, 1984, ("Cosmic Disco", "Afro-Disco")),)),
        ("Rome", "Italy", (("Italian Library Music", 1968, 1978, ("Library Funk", "Jazz-Funk")),)),
        ("Turin", "Italy", (("Italian Dream Trance", 1995, 1999, ("Dream Trance",)),)),
    )),
    ("Spain", ("Spain",), (
        ("Ibiza", "Spain", (
            ("Ibiza Balearic", 1987, 1993, ("Balearic Beat", "Balearic House")),
            ("Ibiza Chillout", 1996, 2004, ("Lounge", "Balearic Beat")),
        )),
        ("Valencia", "Spain", (("Ruta Destroy", 1988, 1995, ("New Beat", "Makina")),)),
        ("Barcelona", "Spain", (("Barcelona Makina", 1993, 2000, ("Makina",)),)),
        ("Madrid", "Spain", (("Movida Madrileña", 1979, 1986, ("Synth-Pop", "Post-Punk")),)),
    )),
    ("Nordics", ("Norway", "Sweden", "Iceland", "Finland"), (
        ("Oslo", "Norway", (("Norwegian Space Disco", 2003, 2012, ("Space Disco", "Cosmic Disco", "Disco Edits")),)),
        ("Stockholm", "Sweden", (
            ("Stockholm Techno", 1995, 2003, ("Loop Techno",)),
            ("Swedish Indie Pop", 2003, 2010, ("Twee Pop", "Indie Dance")),
            ("Cold Meat Industry", 1990, 2005, ("Dark Ambient", "Power Electronics")),
        )),
        ("Reykjavik", "Iceland", (("Icelandic Post-Rock", 1997, 2008, ("Post-Rock", "Ambient Pop")),)),
        ("Helsinki", "Finland", (("Finnish Minimal", 1997, 2004, ("Minimal Techno", "Glitch")),)),
    )),
    ("Jamaica", ("Jamaica",), (
        ("Kingston", "Jamaica", (
            ("Kingston Ska", 1961, 1966, ("Ska",)),
            ("Kingston Rocksteady", 1966, 1969, ("Rocksteady",)),
            ("Roots Reggae Era", 1972, 1981, ("Roots Reggae",)),
            ("King Tubby Dub", 1972, 1982, ("Roots Dub",)),
            ("Kingston Dancehall", 1980, 1988, ("Early Dancehall",)),
            ("Digital Dancehall", 1985, 1995, ("Digital Dancehall", "Ragga", "Digital Dub")),
            ("Modern Dancehall", 2000, 2010, ("Bashment",)),
        )),
    )),
    ("Brazil", ("Brazil",), (
        ("Rio de Janeiro", "Brazil", (
            ("Bossa Nova", 1958, 1966, ("Bossa Nova", "Brazilian Jazz")),
            ("Rio MPB", 1970, 1980, ("MPB", "Samba")),
            ("Rio Baile Funk", 2000, 2010, ("Baile Funk",)),
        )),
        ("São Paulo", "Brazil", (
            ("Tropicália", 1967, 1972, ("Tropicália",)),
            ("Samba-Rock Paulista", 1968, 1978, ("Samba-Rock", "Brazilian Jazz")),
        )),
    )),
    ("Latin America", ("Colombia", "Peru", "Argentina", "Puerto Rico", "Dominican Republic", "Cuba"), (
        ("Barranquilla", "Colombia", (("Colombian Cumbia", 1960, 1975, ("Cumbia",)),)),
        ("Lima", "Peru", (("Peruvian Chicha", 1968, 1980, ("Chicha",)),)),
        ("Buenos Aires", "Argentina", (("ZZK Digital Cumbia", 2007, 2014, ("Digital Cumbia", "Tropical Bass")),)),
        ("San Juan", "Puerto Rico", (("Puerto Rican Reggaeton", 2002, 2010, ("Reggaeton",)),)),
        ("Santo Domingo", "Dominican Republic", (("Dominican Dembow", 2008, 2018, ("Dembow",)),)),
        ("Havana", "Cuba", (
            ("Havana Latin Jazz", 1956, 1965, ("Latin Jazz",)),
            ("Cuban Son Revival", 1996, 2001, ("Son Cubano",)),
        )),
    )),
    ("Africa", ("Nigeria", "Ghana", "Ethiopia", "South Africa", "Angola", "DR Congo"), (
        ("Lagos", "Nigeria", (
            ("Lagos Afrobeat", 1970, 1980, ("Afrobeat", "Afro-Funk")),
            ("Lagos Afrobeats", 2010, 2020, ("Afrobeats",)),
        )),
        ("Accra", "Ghana", (("Ghanaian Highlife", 1960, 1978, ("Highlife",)),)),
        ("Addis Ababa", "Ethiopia", (("Ethio-Jazz Golden Age", 1969, 1975, ("Ethio-Jazz",)),)),
        ("Johannesburg", "South Africa", (
            ("Township Jazz", 1959, 1975, ("South African Jazz",)),
            ("Kwaito", 1993, 2004, ("Kwaito",)),
            ("South African Deep House", 2008, 2016, ("Afro House",)),
            ("Amapiano", 2016, 2022, ("Amapiano",)),
        )),
        ("Durban", "South Africa", (("Durban Gqom", 2012, 2019, ("Gqom",)),)),
        ("Luanda", "Angola", (("Luanda Kuduro", 1996, 2010, ("Kuduro",)),)),
        ("Kinshasa", "DR Congo", (("Congolese Rumba", 1975, 1990, ("Soukous",)),)),
    )),
    ("Asia", ("Japan", "India", "Israel"), (
        ("Tokyo", "Japan", (
            ("Japanese Jazz", 1968, 1980, ("Spiritual Jazz", "Modal Jazz", "Post-Bop")),
            ("City Pop", 1977, 1988, ("City Pop",)),
            ("Kankyō Ongaku Movement", 1980, 1990, ("Kankyō Ongaku", "New Age")),
            ("Shibuya-kei", 1992, 2000, ("Shibuya-kei",)),
            ("Tokyo Deep House", 1993, 2005, ("Jazzy House", "Soulful House")),
        )),
        ("Osaka", "Japan", (("Kansai Noise", 1985, 1998, ("Japanoise", "Harsh Noise")),)),
        ("Goa", "India", (("Goa Trance", 1990, 1997, ("Goa Trance",)),)),
        ("Tel Aviv", "Israel", (("Israeli Full-On", 1998, 2008, ("Full-On",)),)),
    )),
    ("Online & Movements", (), (
        (None, None, (
            ("Free Party Teknival", 1992, 2002, ("Free Tekno", "Acid Techno")),
            ("Happy Hardcore Raves", 1994, 1999, ("Happy Hardcore",)),
            ("Progressive House Superclubs", 1993, 2002, ("Progressive House",)),
            ("Hard House Nights", 1996, 2004, ("Hard House",)),
            ("Trance Anthems", 1998, 2004, ("Uplifting Trance", "Vocal Trance")),
            ("Psytrance Festivals", 1998, 2010, ("Full-On", "Dark Psytrance", "Progressive Psytrance")),
            ("Breakcore Underground", 1999, 2008, ("Breakcore",)),
            ("Liquid Funk", 2000, 2010, ("Liquid",)),
            ("Neurofunk Era", 2000, 2010, ("Neurofunk",)),
            ("UK Hardcore Scene", 2000, 2010, ("UK Hardcore",)),
            ("Blog House", 2006, 2010, ("Fidget House", "Indie Dance")),
            ("Future Garage", 2008, 2013, ("Future Garage",)),
            ("Brostep Era", 2009, 2013, ("Brostep",)),
            ("Chillwave", 2009, 2012, ("Chillwave",)),
            ("Witch House", 2009, 2012, ("Witch House",)),
            ("Autonomic", 2009, 2012, ("Autonomic", "Minimal Drum & Bass")),
            ("Synthwave Revival", 2010, 2018, ("Outrun", "Darksynth")),
            ("Cloud Rap", 2010, 2015, ("Cloud Rap",)),
            ("Vaporwave", 2011, 2016, ("Vaporwave",)),
            ("Lo-Fi House Revival", 2014, 2019, ("Lo-Fi House", "Outsider House")),
            ("Halftime", 2014, 2020, ("Halftime",)),
            ("Deconstructed Club", 2014, 2020, ("Deconstructed Club",)),
            ("Lo-Fi Hip-Hop Streams", 2015, 2021, ("Lo-Fi Hip-Hop",)),
            ("Bedroom Pop", 2015, 2020, ("Bedroom Pop",)),
            ("Riddim Dubstep", 2015, 2020, ("Riddim",)),
            ("Neoclassical Streaming", 2010, 2020, ("Neoclassical",)),
            ("Hyperpop", 2018, 2022, ("Hyperpop",)),
            ("Phonk Revival", 2019, 2023, ("Phonk",)),
        )),
    )),
)

# Well-known scenes are never small: their main niche's weight has a floor (see demo._plan_niches).
FEATURED_MOVEMENTS = frozenset({
    "Berlin Minimal", "Detroit Techno Second Wave", "Bristol Sound", "UK Garage", "Chicago Acid",
    "Lo-Fi House Revival", "Liquid Funk", "Golden Age New York", "London Post-Punk", "LA Spiritual Jazz",
})

# Countries an online movement's artists come from.
ONLINE_COUNTRIES = ("UK", "USA", "Germany", "Netherlands", "Canada", "Australia", "Sweden", "France", "Japan")

# ------------------------------------------------------------------------------------------ word lists
KEYS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

ADJECTIVES = (
    "Amber", "Ancient", "Astral", "Blue", "Broken", "Burning", "Cold", "Cosmic", "Crystal", "Dark", "Deep", "Distant",
    "Dusty", "Electric", "Empty", "Endless", "Faded", "Falling", "Fading", "Final", "Floating", "Frozen", "Gentle",
    "Golden", "Hidden", "Hollow", "Holy", "Infinite", "Inner", "Iron", "Last", "Late", "Liquid", "Lonely", "Lost",
    "Low", "Lunar", "Magnetic", "Midnight", "Mirrored", "Neon", "Northern", "Open", "Pale", "Parallel", "Perfect",
    "Phantom", "Quiet", "Radiant", "Red", "Restless", "Rising", "Secret", "Shallow", "Silent", "Silver", "Slow",
    "Solar", "Southern", "Strange", "Sunken", "Sweet", "Tender", "Twisted", "Velvet", "Violet", "Warm", "Wild",
    "Wired", "Young", "Hazy", "Static", "Tidal", "Urban", "Vivid", "Weightless", "Paper", "Glass", "Concrete",
)
NOUNS = (
    "Affair", "Afternoon", "Alley", "Angel", "Archive", "Atlas", "Avenue", "Balance", "Ballroom", "Basement",
    "Beacon", "Blossom", "Bridge", "Canyon", "Carousel", "Cathedral", "Circle", "City", "Cloud", "Code", "Comet",
    "Corridor", "Current", "Dancer", "Dawn", "Desert", "Dream", "Drift", "Echo", "Eclipse", "Engine", "Fever",
    "Field", "Fire", "Flame", "Forest", "Fountain", "Frequency", "Garden", "Ghost", "Glow", "Groove", "Harbour",
    "Heart", "Heat", "Horizon", "Island", "Journey", "Jungle", "Kingdom", "Lagoon", "Light", "Lighthouse", "Machine",
    "Memory", "Mirror", "Moon", "Motion", "Mountain", "Night", "Ocean", "Orbit", "Paradise", "Passage", "Pulse",
    "Rain", "Rhythm", "River", "Road", "Room", "Sea", "Season", "Shadow", "Signal", "Sky", "Smoke", "Snow",
    "Spiral", "Star", "Station", "Storm", "Street", "Summer", "Sun", "System", "Temple", "Thunder", "Tide", "Tower",
    "Train", "Tunnel", "Valley", "Vision", "Voice", "Wave", "Window", "Winter", "World", "Skyline", "Satellite",
    "Reflection", "Prism", "Ritual", "Rooftop", "Sanctuary", "Highway", "Pavement", "Orchid", "Monsoon", "Mirage",
)
VERBS = (
    "Breathe", "Burn", "Call", "Chase", "Climb", "Dance", "Dive", "Drift", "Fall", "Feel", "Find", "Float", "Fly",
    "Follow", "Hold", "Jack", "Keep", "Lift", "Listen", "Move", "Rise", "Run", "Shake", "Shine", "Slide", "Spin",
    "Stay", "Step", "Swim", "Touch", "Turn", "Wait", "Walk", "Wander", "Wake", "Release",
)
MIXES = ("Original Mix", "Dub", "Extended Mix", "Club Mix", "Edit", "Instrumental", "Remix", "Reprise")

FIRST_NAMES = (
    "Aaron", "Abel", "Ada", "Adrian", "Aisha", "Alice", "Amara", "Andre", "Anika", "Arlo", "Astrid", "Ben", "Bianca",
    "Boris", "Carl", "Carmen", "Cecile", "Chen", "Clara", "Cyrus", "Dana", "Dario", "Delia", "Derrick", "Dmitri",
    "Eddie", "Elena", "Elias", "Emeka", "Eric", "Esther", "Fatima", "Felix", "Femi", "Frankie", "Gina", "Grace",
    "Hana", "Hector", "Ines", "Ivan", "Jada", "Jamal", "Jana", "Jasper", "Jerome", "Joaquin", "Jonas", "Juan",
    "Julia", "Kai", "Kenji", "Kofi", "Lamar", "Lena", "Leon", "Lina", "Lou", "Luca", "Luz", "Maceo", "Maia",
    "Marcus", "Marta", "Mateo", "Maya", "Miles", "Mira", "Nadia", "Nico", "Nina", "Noor", "Olu", "Omar", "Oskar",
    "Pablo", "Pearl", "Quincy", "Rafael", "Ravi", "Rosa", "Ruben", "Ruth", "Sade", "Sam", "Sami", "Sara", "Sonia",
    "Stefan", "Sven", "Tariq", "Thea", "Theo", "Tomas", "Uma", "Vera", "Victor", "Wanda", "Yara", "Yusuf", "Zoe",
    "Kwame", "Ingrid", "Haruki", "Aiko", "Paulo", "Chiara", "Moritz", "Greta", "Silvio", "Dolores", "Reggie",
)
LAST_NAMES = (
    "Abara", "Adeyemi", "Alvarez", "Anders", "Baker", "Banks", "Barros", "Becker", "Bell", "Berg", "Blake", "Bloom",
    "Brooks", "Brown", "Carter", "Castillo", "Chambers", "Costa", "Cruz", "Dahl", "Davis", "Diallo", "Dubois",
    "Duarte", "Ellis", "Evans", "Ferreira", "Fischer", "Fontaine", "Fuchs", "Garcia", "Gray", "Green", "Grant",
    "Hale", "Hansen", "Harris", "Hayes", "Holm", "Ito", "Jackson", "James", "Jensen", "Johnson", "Jones", "Kaplan",
    "Keller", "Kimura", "King", "Koch", "Lang", "Larsen", "Lewis", "Lindqvist", "Lopez", "Mancini", "Marsh",
    "Martin", "Mendes", "Meyer", "Mills", "Moreau", "Morris", "Mensah", "Nakamura", "Nash", "Navarro", "Nielsen",
    "Novak", "Okafor", "Oliveira", "Owens", "Park", "Parker", "Petrov", "Price", "Quinn", "Reed", "Reyes", "Rivera",
    "Roberts", "Romano", "Rossi", "Santos", "Schmidt", "Scott", "Silva", "Sims", "Stone", "Strand", "Suzuki",
    "Tanaka", "Taylor", "Thompson", "Torres", "Turner", "Vargas", "Vogel", "Walker", "Ward", "Watson", "Weber",
    "White", "Williams", "Wolfe", "Young", "Zimmer", "Haddad", "Osei", "Moyo", "Sato", "Rinaldi", "Lindgren",
)
STAGE_WORDS = (
    "Aether", "Alloy", "Anvil", "Apex", "Arc", "Argon", "Aura", "Axis", "Basalt", "Binary", "Blackout", "Bloc",
    "Cadence", "Cascade", "Chrome", "Cinder", "Cipher", "Cobalt", "Coda", "Cortex", "Delta", "Dune", "Dynamo",
    "Ember", "Enigma", "Epoch", "Ferro", "Flux", "Fragment", "Fulcrum", "Gamma", "Glyph", "Granite", "Halo",
    "Helix", "Hex", "Ion", "Isotope", "Jade", "Karma", "Kinetic", "Krypton", "Lumen", "Lux", "Magma", "Matrix",
    "Meridian", "Mono", "Mosaic", "Nebula", "Nexus", "Nimbus", "Nova", "Obsidian", "Omen", "Onyx", "Optic",
    "Oracle", "Oxide", "Parallax", "Pylon", "Quartz", "Quasar", "Radix", "Raster", "Relic", "Rotor", "Rune",
    "Saffron", "Sigil", "Solace", "Sonar", "Spectra", "Spore", "Strata", "Sulfur", "Tangent", "Tesla", "Theorem",
    "Token", "Totem", "Umbra", "Vector", "Vertex", "Vortex", "Wraith", "Xenon", "Zenith", "Zephyr", "Zinc",
)
LABEL_SUFFIXES = ("Records", "Recordings", "Music", "Sounds", "Tapes", "Audio", "Label", "Disques", "Editions")

# Descriptors any lineage may use, so niches of different lineages share some.
SHARED_DESCRIPTORS = ("warm", "dark", "melancholic", "dusty", "hypnotic", "lo-fi", "euphoric", "dreamy", "raw", "lush",
                      "groovy", "hazy", "minimal", "cinematic")
