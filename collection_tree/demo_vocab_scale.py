"""The vocabulary a demo collection grows into above the reference size (``collection_tree.demo_taxonomy``
draws from it): more sub-genres and lineages, cities per region with the lineages their scenes play,
qualifiers that make plausible sub-genres of known ones ("Melodic Dub Techno", "Nordic Cool Jazz"),
and more words for artist and label names. Pure data; the base vocabulary (``demo_vocab``) is
untouched, so collections up to the reference size come out exactly as before.
"""

from __future__ import annotations

from collection_tree.demo_vocab import Sound

# ------------------------------------------------------------------------------------------ genres
# New lineages (root -> sound) for a catalogue that has grown past dance music and its neighbours.
EXTRA_SOUND: dict[str, Sound] = {
    "Folk": Sound((80, 130), (2, 5), (150, 330), ("acoustic guitar", "fingerpicked", "harmonies", "fiddle",
                  "banjo", "storytelling", "pastoral", "warm", "intimate", "melancholic"), "band"),
    "Country": Sound((80, 130), (3, 6), (150, 270), ("pedal steel", "twang", "fiddle", "honky-tonk piano",
                     "storytelling", "harmonies", "banjo", "heartfelt", "outlaw"), "band"),
    "Blues": Sound((70, 130), (3, 6), (170, 330), ("slide guitar", "harmonica", "shuffle", "raw", "call and response",
                   "twelve-bar", "gritty", "soulful vocals", "hypnotic"), "soul"),
}

# (root, branch or None, (leaf, ...)): real sub-genres the base vocabulary lacks. A branch that does not
# exist yet becomes a new branch of the root; None puts the leaves straight under the root.
EXTRA_GENRES: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("House", None, ("Organic House", "Melodic House", "Afro Tech", "Bass House", "Future House", "Tropical House",
                     "Latin House", "Funky House", "Piano House", "Ambient House", "Stutter House", "Speed House")),
    ("House", "Deep House", ("Deep Tech", "Chill House")),
    ("House", "Tech House", ("Rolling Tech House",)),
    ("Techno", None, ("Melodic Techno", "Hard Groove", "Tribal Techno", "Minimal Dub", "Warehouse Techno",
                      "Hi-Tech Minimal", "Electro Techno")),
    ("Techno", "Hard Techno", ("Hardtek", "Rave Techno")),
    ("Electro", None, ("Nu-Electro", "Electro Breaks", "Bass Electro")),
    ("Drum & Bass", None, ("Crossbreed", "Darkstep", "Rollers", "Dancefloor Drum & Bass", "Jazzstep", "Hardstep",
                           "Microfunk", "Intelligent Drum & Bass")),
    ("Bass Music", None, ("Future Bass", "Wave", "UK Bass", "Leftfield Bass", "Purple Sound", "Eskibeat")),
    ("Bass Music", "Dubstep", ("Tearout", "Melodic Dubstep", "Chillstep", "Dungeon Sound")),
    ("Bass Music", "UK Garage", ("Breakstep",)),
    ("Breakbeat", None, ("Progressive Breaks", "Tech Breaks", "Funky Breaks", "Psybreaks")),
    ("Hardcore", None, ("Terrorcore", "Speedcore", "Rawstyle", "Uptempo Hardcore", "Freeform Hardcore", "J-Core",
                        "Nu Style Gabber", "Industrial Hardcore")),
    ("Trance", None, ("Tech Trance", "Euro Trance", "Ambient Trance", "Neo-Trance")),
    ("Trance", "Psytrance", ("Forest Psytrance", "Hi-Tech Psytrance", "Psycore", "Suomisaundi", "Zenonesque")),
    ("Ambient", None, ("Dungeon Synth", "Ambient Jazz", "Fourth World", "Guitar Ambient", "Microsound")),
    ("Downtempo", None, ("Chillhop", "Organic Downtempo", "Dubtronica", "Cinematic Downtempo")),
    ("Downtempo", "Chillout", ("Ambient Lounge", "Exotica")),
    ("Electronica", None, ("Glitch Pop", "Progressive Electronic")),
    ("Synth & Wave", None, ("Futurepop", "Electro-Industrial", "Dark Electro")),
    ("Synth & Wave", "Synthwave", ("Dreamwave", "Spacesynth", "Chillsynth")),
    ("Disco", None, ("Electro-Disco", "Afro-Cosmic", "Balearic Disco", "Disco Polo", "Eurobeat")),
    ("Disco", "Nu-Disco", ("Dark Disco", "Slo-Mo Disco")),
    ("Reggae", None, ("Early Reggae", "Skinhead Reggae", "Reggae Revival", "Two-Tone")),
    ("Reggae", "Dancehall", ("Rub-a-Dub",)),
    ("Dub", None, ("Nu Dub", "New Roots")),
    ("Soul", None, ("Blue-Eyed Soul", "Retro Soul", "Sweet Soul", "Smooth Soul", "New Jack Swing", "Alternative R&B",
                    "Contemporary R&B")),
    ("Soul", "Classic Soul", ("Doo-Wop", "Uptown Soul")),
    ("Funk", None, ("Modern Funk", "Nu-Funk", "Psychedelic Funk", "Funk Rock")),
    ("Hip-Hop", None, ("Emo Rap", "Rage", "Plugg", "Brooklyn Drill", "Mumble Rap", "Alternative Hip-Hop",
                       "Experimental Hip-Hop", "Hardcore Hip-Hop")),
    ("Hip-Hop", "Golden Age Hip-Hop", ("Mafioso Rap",)),
    ("Hip-Hop", "Instrumental Hip-Hop", ("Jazzhop",)),
    ("Hip-Hop", "Southern Hip-Hop", ("Snap", "Dirty South")),
    ("Hip-Hop", "West Coast Hip-Hop", ("Gangsta Rap", "Jerk", "Mobb Music")),
    ("Jazz", None, ("Third Stream", "Jazz Manouche", "Smooth Jazz", "Avant-Garde Jazz", "Swing", "Dixieland",
                    "Afro-Cuban Jazz", "Nordic Jazz", "Free Improvisation", "Cape Jazz", "Mainstream Jazz")),
    ("Jazz", "Jazz Fusion", ("Indo-Jazz Fusion", "Latin Fusion")),
    ("Rock", None, ("Surf Rock", "Blues Rock", "Southern Rock", "Heartland Rock", "Glam Rock", "Hard Rock", "Art Rock",
                    "Folk Rock", "Desert Rock", "Psychobilly", "Rockabilly", "Emo", "Midwest Emo", "Screamo")),
    ("Rock", "Metal", ("Heavy Metal", "Thrash Metal", "Doom Metal", "Black Metal", "Death Metal", "Sludge Metal",
                       "Post-Metal", "Stoner Metal", "Power Metal", "Metalcore", "Nu Metal", "Industrial Metal")),
    ("Rock", "Punk", ("Street Punk", "Skate Punk", "Crust Punk", "Garage Punk", "Egg Punk")),
    ("Rock", "Indie Rock", ("Slacker Rock", "Post-Britpop", "Sadcore")),
    ("Rock", "Psychedelic Rock", ("Heavy Psych", "Garage Psych", "Freakbeat", "Raga Rock")),
    ("Pop", None, ("Europop", "Teen Pop", "Power Pop", "Sunshine Pop", "Baroque Pop", "K-Pop", "J-Pop", "Mandopop",
                   "Cantopop", "Dance-Pop", "Psychedelic Pop", "Schlager", "Chanson")),
    ("Pop", "Indie Pop", ("Jangle Pop",)),
    ("Latin", None, ("Merengue", "Bachata", "Bolero", "Vallenato", "Latin Trap", "Mambo", "Timba", "Latin Funk",
                     "Champeta", "Tango", "Nuevo Tango", "Guaracha", "Cumbia Villera", "Norteño", "Banda")),
    ("Brazilian", None, ("Forró", "Axé", "Pagode", "Sertanejo", "Brega", "Frevo", "Samba-Reggae", "Maracatu", "Choro",
                         "Manguebeat", "Lambada", "Brazilian Phonk")),
    ("African", None, ("Mbalax", "Juju", "Fuji", "Afro-Rock", "Tishoumaren", "Benga", "Taarab", "Rai", "Gnawa",
                       "Chimurenga", "Coupé-Décalé", "Makossa", "Ndombolo", "Bongo Flava", "Shangaan Electro",
                       "Singeli", "Kizomba", "Semba", "Mbaqanga", "Maskandi")),
    ("Experimental", None, ("Sound Art", "Onkyo", "Hauntology")),
    ("Experimental", "Noise", ("Harsh Noise Wall",)),
    ("Experimental", "Modern Classical", ("Post-Minimalism", "Spectralism")),
    ("Folk", "Contemporary Folk", ("Indie Folk", "Freak Folk", "Psych Folk", "Chamber Folk", "Anti-Folk")),
    ("Folk", None, ("British Folk Revival", "American Primitivism", "Folk Punk", "Neofolk", "Celtic Folk",
                    "Nordic Folk", "Singer-Songwriter")),
    ("Country", None, ("Honky Tonk", "Outlaw Country", "Bluegrass", "Alt-Country", "Americana", "Country Rock",
                       "Bakersfield Sound", "Nashville Sound", "Cosmic Country", "Western Swing", "Country Pop",
                       "Red Dirt")),
    ("Blues", None, ("Delta Blues", "Chicago Blues", "Electric Blues", "Texas Blues", "Piedmont Blues", "Jump Blues",
                     "Hill Country Blues", "Soul Blues", "British Blues", "Desert Blues")),
)

EXTRA_BPM_OVERRIDES: dict[str, tuple[int, int]] = {
    "Melodic Techno": (120, 126), "Hard Groove": (132, 140), "Afro Tech": (120, 125), "Organic House": (112, 120),
    "Stutter House": (120, 126), "Speed House": (130, 140), "Future Bass": (140, 160), "Chillstep": (138, 142),
    "Tearout": (140, 150), "Speedcore": (220, 300), "Terrorcore": (180, 220), "Uptempo Hardcore": (200, 230),
    "Rawstyle": (150, 156), "J-Core": (170, 200), "Chillhop": (70, 90), "Jazzhop": (75, 92), "Rage": (140, 160),
    "Plugg": (140, 160), "Brooklyn Drill": (140, 146), "Snap": (70, 80), "Dirty South": (70, 95),
    "Speed Garage": (132, 136), "Hardtek": (170, 185), "Eurobeat": (150, 160), "Singeli": (160, 200),
    "Shangaan Electro": (180, 190), "Bluegrass": (110, 160), "Swing": (120, 200), "Forest Psytrance": (146, 155),
    "Hi-Tech Psytrance": (180, 200), "Psycore": (160, 180), "Bachata": (120, 140), "Kizomba": (80, 100),
}

# Qualifiers that make plausible sub-genres of a known leaf, by how its lineage's artists are styled
# (``Sound.artist_style``). One ending in "-" is joined without a space ("Neo-Cumbia"). No nationalities:
# "Nordic Pop Punk" played in Salvador reads wrong.
GENRE_QUALIFIERS: dict[str, tuple[str, ...]] = {
    "electronic": ("Deep", "Dark", "Melodic", "Acid", "Tribal", "Afro", "Latin", "Hypnotic", "Minimal", "Raw", "Dub",
                   "Organic", "Cosmic", "Industrial", "Lo-Fi", "Progressive", "Atmospheric", "Balearic", "Jazzy",
                   "Soulful", "Broken"),
    "band": ("Dark", "Psychedelic", "Lo-Fi", "Heavy", "Cosmic", "Experimental", "Acoustic", "Instrumental", "Melodic",
             "Raw", "Neo-", "Post-"),
    "hiphop": ("Dark", "Jazzy", "Lo-Fi", "Abstract", "Underground", "Experimental", "Soulful", "Latin", "Psychedelic",
               "Conscious"),
    "jazz": ("Modern", "Afro", "Latin", "Electric", "Cosmic", "Vocal", "Avant-Garde", "Spiritual", "Deep", "Chamber"),
    "soul": ("Deep", "Modern", "Sweet", "Southern", "Psychedelic", "Funky", "Latin", "Gospel", "Cosmic"),
    "reggae": ("Roots", "Digital", "Conscious", "African", "Modern", "Electronic", "Dubwise", "Deep"),
    "world": ("Electronic", "Psychedelic", "Modern", "Urban", "Digital", "Traditional", "Tropical", "Neo-", "Deep"),
}
# Genres named after their place or moment are never qualified ("Dark Madchester"); names holding a city
# or country of the vocabulary ("Detroit Techno") are recognised without being listed here.
PLACE_BOUND_GENRES = frozenset({
    "Madchester", "Shibuya-kei", "Motown Sound", "Britpop", "Italo Disco", "Italo House", "Brazilian Jazz",
    "South African Jazz", "Ethio-Jazz", "Romanian Minimal", "Goa Trance", "Kankyō Ongaku", "Krautrock", "Kosmische",
    "Tropicália", "MPB", "C86", "Bossa Nova", "Son Cubano", "Samba-Rock", "Burger-Highlife", "Japanoise",
    "Northern Soul", "Philly Soul", "New Orleans Funk", "G-Funk", "Hyphy", "Bounce", "Crunk", "Go-Go",
    "First Wave Punk", "Old School Hip-Hop", "Golden Age Hip-Hop", "Garage Rock Revival", "Post-Punk Revival",
})

# ------------------------------------------------------------------------------------------ scenes
# (region, (country, ...), ((city, country), ...)): cities whose scenes a large catalogue adds. A region
# already in ``demo_vocab.SCENE_REGIONS`` gets these cities (and countries) after its own.
EXTRA_CITIES: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]], ...] = (
    ("Germany", ("Germany",), tuple((c, "Germany") for c in (
        "Stuttgart", "Mannheim", "Offenbach", "Dresden", "Karlsruhe", "Hannover", "Nuremberg", "Bremen", "Essen",
        "Dortmund", "Bochum", "Kassel", "Weimar", "Freiburg", "Mainz"))),
    ("UK", ("UK",), tuple((c, "UK") for c in (
        "Liverpool", "Newcastle", "Nottingham", "Edinburgh", "Cardiff", "Belfast", "Coventry", "Leicester",
        "Southampton", "Norwich", "Derby", "Huddersfield", "Stoke-on-Trent", "Aberdeen", "Dundee", "Swansea",
        "Plymouth", "Bath", "Cambridge"))),
    ("USA", ("USA",), tuple((c, "USA") for c in (
        "Austin", "Nashville", "Denver", "Portland", "Boston", "Pittsburgh", "Cleveland", "Columbus", "Cincinnati",
        "St. Louis", "Kansas City", "Milwaukee", "Omaha", "Phoenix", "Tucson", "Las Vegas", "Salt Lake City",
        "San Diego", "Oakland", "Sacramento", "Albuquerque", "Dallas", "San Antonio", "El Paso", "Tampa",
        "Jacksonville", "Richmond", "Raleigh", "Chapel Hill", "Providence", "Buffalo", "Rochester", "Honolulu",
        "Madison", "Ann Arbor", "Lawrence", "Denton"))),
    ("France", ("France",), tuple((c, "France") for c in (
        "Lyon", "Marseille", "Bordeaux", "Toulouse", "Lille", "Nantes", "Rennes", "Montpellier", "Strasbourg", "Nice",
        "Grenoble", "Saint-Étienne"))),
    ("Benelux", ("Belgium", "Netherlands"), (
        ("Antwerp", "Belgium"), ("Liège", "Belgium"), ("Charleroi", "Belgium"), ("Leuven", "Belgium"),
        ("Utrecht", "Netherlands"), ("Eindhoven", "Netherlands"), ("Groningen", "Netherlands"),
        ("Nijmegen", "Netherlands"), ("Tilburg", "Netherlands"), ("Maastricht", "Netherlands"),
        ("Haarlem", "Netherlands"))),
    ("Italy", ("Italy",), tuple((c, "Italy") for c in (
        "Naples", "Bologna", "Florence", "Venice", "Genoa", "Palermo", "Bari", "Rimini", "Verona", "Riccione",
        "Catania", "Trieste"))),
    ("Spain", ("Spain",), tuple((c, "Spain") for c in (
        "Seville", "Bilbao", "Málaga", "Zaragoza", "Granada", "Vigo", "San Sebastián", "Palma", "Alicante", "Murcia",
        "Gijón"))),
    ("Nordics", ("Norway", "Sweden", "Iceland", "Finland", "Denmark"), (
        ("Gothenburg", "Sweden"), ("Malmö", "Sweden"), ("Uppsala", "Sweden"), ("Copenhagen", "Denmark"),
        ("Aarhus", "Denmark"), ("Odense", "Denmark"), ("Bergen", "Norway"), ("Trondheim", "Norway"),
        ("Stavanger", "Norway"), ("Tromsø", "Norway"), ("Tampere", "Finland"), ("Turku", "Finland"),
        ("Oulu", "Finland"), ("Akureyri", "Iceland"))),
    ("Jamaica", ("Jamaica",), tuple((c, "Jamaica") for c in (
        "Montego Bay", "Spanish Town", "Ocho Rios", "Mandeville", "Portmore", "Negril"))),
    ("Brazil", ("Brazil",), tuple((c, "Brazil") for c in (
        "Salvador", "Recife", "Belo Horizonte", "Porto Alegre", "Brasília", "Curitiba", "Fortaleza", "Belém",
        "Manaus", "Florianópolis", "Goiânia", "Olinda"))),
    ("Latin America", ("Colombia", "Peru", "Argentina", "Puerto Rico", "Dominican Republic", "Cuba", "Mexico", "Chile",
                       "Venezuela", "Ecuador", "Bolivia", "Uruguay", "Paraguay", "Panama", "Costa Rica",
                       "Guatemala", "El Salvador", "Nicaragua"), (
        ("Mexico City", "Mexico"), ("Guadalajara", "Mexico"), ("Monterrey", "Mexico"), ("Tijuana", "Mexico"),
        ("Bogotá", "Colombia"), ("Medellín", "Colombia"), ("Cali", "Colombia"), ("Cartagena", "Colombia"),
        ("Santiago", "Chile"), ("Valparaíso", "Chile"), ("Cusco", "Peru"), ("Arequipa", "Peru"),
        ("Caracas", "Venezuela"), ("Maracaibo", "Venezuela"), ("Quito", "Ecuador"), ("Guayaquil", "Ecuador"),
        ("La Paz", "Bolivia"), ("Montevideo", "Uruguay"), ("Rosario", "Argentina"), ("Mendoza", "Argentina"),
        ("Asunción", "Paraguay"), ("Panama City", "Panama"), ("San José", "Costa Rica"),
        ("Guatemala City", "Guatemala"), ("San Salvador", "El Salvador"), ("Managua", "Nicaragua"),
        ("Santiago de Cuba", "Cuba"), ("Ponce", "Puerto Rico"), ("Santiago de los Caballeros", "Dominican Republic"))),
    ("Africa", ("Nigeria", "Ghana", "Ethiopia", "South Africa", "Angola", "DR Congo", "Senegal", "Mali",
                "Ivory Coast", "Guinea", "Sierra Leone", "Cameroon", "Republic of the Congo", "Kenya", "Uganda",
                "Tanzania", "Zimbabwe", "Zambia", "Mozambique", "Morocco", "Algeria", "Tunisia", "Egypt", "Sudan",
                "Niger", "Togo", "Benin"), (
        ("Abuja", "Nigeria"), ("Ibadan", "Nigeria"), ("Port Harcourt", "Nigeria"), ("Kumasi", "Ghana"),
        ("Tamale", "Ghana"), ("Dakar", "Senegal"), ("Saint-Louis", "Senegal"), ("Bamako", "Mali"),
        ("Abidjan", "Ivory Coast"), ("Conakry", "Guinea"), ("Freetown", "Sierra Leone"), ("Douala", "Cameroon"),
        ("Yaoundé", "Cameroon"), ("Brazzaville", "Republic of the Congo"), ("Nairobi", "Kenya"),
        ("Mombasa", "Kenya"), ("Kampala", "Uganda"), ("Dar es Salaam", "Tanzania"), ("Zanzibar", "Tanzania"),
        ("Harare", "Zimbabwe"), ("Bulawayo", "Zimbabwe"), ("Lusaka", "Zambia"), ("Maputo", "Mozambique"),
        ("Cape Town", "South Africa"), ("Pretoria", "South Africa"), ("Soweto", "South Africa"),
        ("Gqeberha", "South Africa"), ("Casablanca", "Morocco"), ("Marrakesh", "Morocco"), ("Tangier", "Morocco"),
        ("Algiers", "Algeria"), ("Oran", "Algeria"), ("Tunis", "Tunisia"), ("Cairo", "Egypt"),
        ("Alexandria", "Egypt"), ("Khartoum", "Sudan"), ("Niamey", "Niger"), ("Agadez", "Niger"), ("Lomé", "Togo"),
        ("Cotonou", "Benin"))),
    ("Asia", ("Japan", "India", "Israel"), (
        ("Kyoto", "Japan"), ("Nagoya", "Japan"), ("Sapporo", "Japan"), ("Fukuoka", "Japan"), ("Kobe", "Japan"),
        ("Yokohama", "Japan"), ("Naha", "Japan"), ("Mumbai", "India"), ("Delhi", "India"), ("Bangalore", "India"),
        ("Kolkata", "India"), ("Chennai", "India"), ("Pune", "India"), ("Jerusalem", "Israel"), ("Haifa", "Israel"))),
    ("East Asia", ("South Korea", "China", "Taiwan", "Mongolia"), (
        ("Seoul", "South Korea"), ("Busan", "South Korea"), ("Beijing", "China"), ("Shanghai", "China"),
        ("Shenzhen", "China"), ("Chengdu", "China"), ("Guangzhou", "China"), ("Hong Kong", "China"),
        ("Taipei", "Taiwan"), ("Kaohsiung", "Taiwan"), ("Ulaanbaatar", "Mongolia"))),
    ("Southeast Asia", ("Thailand", "Indonesia", "Philippines", "Vietnam", "Malaysia", "Cambodia"), (
        ("Bangkok", "Thailand"), ("Chiang Mai", "Thailand"), ("Jakarta", "Indonesia"), ("Bandung", "Indonesia"),
        ("Yogyakarta", "Indonesia"), ("Denpasar", "Indonesia"), ("Manila", "Philippines"), ("Cebu", "Philippines"),
        ("Ho Chi Minh City", "Vietnam"), ("Hanoi", "Vietnam"), ("Kuala Lumpur", "Malaysia"),
        ("Phnom Penh", "Cambodia"))),
    ("Middle East", ("Lebanon", "Turkey", "Iran", "United Arab Emirates", "Jordan", "Qatar"), (
        ("Beirut", "Lebanon"), ("Istanbul", "Turkey"), ("Ankara", "Turkey"), ("Izmir", "Turkey"),
        ("Tehran", "Iran"), ("Dubai", "United Arab Emirates"), ("Amman", "Jordan"), ("Doha", "Qatar"))),
    ("Eastern Europe", ("Poland", "Czech Republic", "Hungary", "Romania", "Bulgaria", "Serbia", "Croatia", "Slovenia",
                        "Bosnia and Herzegovina", "Slovakia", "Ukraine", "Russia", "Belarus", "Estonia", "Latvia",
                        "Lithuania", "Georgia", "Armenia"), (
        ("Warsaw", "Poland"), ("Kraków", "Poland"), ("Wrocław", "Poland"), ("Gdańsk", "Poland"), ("Łódź", "Poland"),
        ("Poznań", "Poland"), ("Prague", "Czech Republic"), ("Brno", "Czech Republic"), ("Budapest", "Hungary"),
        ("Bucharest", "Romania"), ("Cluj-Napoca", "Romania"), ("Timișoara", "Romania"), ("Sofia", "Bulgaria"),
        ("Belgrade", "Serbia"), ("Novi Sad", "Serbia"), ("Zagreb", "Croatia"), ("Split", "Croatia"),
        ("Ljubljana", "Slovenia"), ("Sarajevo", "Bosnia and Herzegovina"), ("Bratislava", "Slovakia"),
        ("Kyiv", "Ukraine"), ("Kharkiv", "Ukraine"), ("Odesa", "Ukraine"), ("Lviv", "Ukraine"), ("Moscow", "Russia"),
        ("St. Petersburg", "Russia"), ("Yekaterinburg", "Russia"), ("Novosibirsk", "Russia"), ("Minsk", "Belarus"),
        ("Tallinn", "Estonia"), ("Riga", "Latvia"), ("Vilnius", "Lithuania"), ("Tbilisi", "Georgia"),
        ("Yerevan", "Armenia"))),
    ("Southern Europe", ("Portugal", "Greece", "Malta", "Cyprus"), (
        ("Lisbon", "Portugal"), ("Porto", "Portugal"), ("Coimbra", "Portugal"), ("Athens", "Greece"),
        ("Thessaloniki", "Greece"), ("Valletta", "Malta"), ("Nicosia", "Cyprus"))),
    ("Austria & Switzerland", ("Austria", "Switzerland"), (
        ("Vienna", "Austria"), ("Graz", "Austria"), ("Linz", "Austria"), ("Salzburg", "Austria"),
        ("Zurich", "Switzerland"), ("Geneva", "Switzerland"), ("Basel", "Switzerland"), ("Bern", "Switzerland"),
        ("Lausanne", "Switzerland"))),
    ("Ireland", ("Ireland",), tuple((c, "Ireland") for c in ("Dublin", "Cork", "Galway", "Limerick"))),
    ("Canada", ("Canada",), tuple((c, "Canada") for c in (
        "Montreal", "Toronto", "Vancouver", "Ottawa", "Calgary", "Edmonton", "Winnipeg", "Halifax", "Quebec City",
        "Victoria", "Hamilton", "Saskatoon"))),
    ("Oceania", ("Australia", "New Zealand"), (
        ("Sydney", "Australia"), ("Melbourne", "Australia"), ("Brisbane", "Australia"), ("Perth", "Australia"),
        ("Adelaide", "Australia"), ("Hobart", "Australia"), ("Gold Coast", "Australia"),
        ("Auckland", "New Zealand"), ("Wellington", "New Zealand"), ("Christchurch", "New Zealand"),
        ("Dunedin", "New Zealand"))),
    ("Caribbean", ("Trinidad and Tobago", "Barbados", "Haiti", "Martinique", "Guadeloupe", "Curaçao", "Bahamas"), (
        ("Port of Spain", "Trinidad and Tobago"), ("San Fernando", "Trinidad and Tobago"),
        ("Bridgetown", "Barbados"), ("Port-au-Prince", "Haiti"), ("Fort-de-France", "Martinique"),
        ("Pointe-à-Pitre", "Guadeloupe"), ("Willemstad", "Curaçao"), ("Nassau", "Bahamas"))),
)

# Music capitals draw more new scenes than other cities (weight 4 against 2 for the base vocabulary's
# cities and 1 for the others).
MAJOR_CITIES = frozenset({
    "London", "New York", "Berlin", "Paris", "Tokyo", "Los Angeles", "Chicago", "Detroit", "Amsterdam", "Lagos",
    "Johannesburg", "Rio de Janeiro", "São Paulo", "Mexico City", "Kingston", "Seoul", "Melbourne", "Montreal",
    "Toronto", "Manchester", "Bristol", "Barcelona", "Lisbon", "Istanbul", "Moscow", "Warsaw", "Kyiv", "Sydney",
    "Buenos Aires", "Bogotá", "Havana", "Nairobi", "Dakar", "Copenhagen", "Stockholm", "Vienna", "Brussels",
    "Glasgow", "Atlanta", "Miami", "San Francisco", "Cologne", "Hamburg", "Milan", "Madrid", "Dublin",
})
BASE_CITY_WEIGHT = 2
CITY_WEIGHT = 1
MAJOR_CITY_WEIGHT = 4

# The lineages a region's new scenes play; a region not listed plays every lineage.
REGION_LINEAGES: dict[str, tuple[str, ...]] = {
    "Jamaica": ("Reggae", "Dub", "Hip-Hop", "Soul", "Bass Music"),
    "Caribbean": ("Reggae", "Dub", "Latin", "Soul", "Funk", "Hip-Hop", "Jazz"),
    "Brazil": ("Brazilian", "Jazz", "Funk", "Soul", "Rock", "Pop", "Hip-Hop", "House", "Techno", "Bass Music",
               "Drum & Bass", "Electronica"),
    "Latin America": ("Latin", "Rock", "Pop", "Hip-Hop", "Jazz", "Techno", "House", "Bass Music", "Folk",
                      "Electronica", "Disco", "Experimental"),
    "Africa": ("African", "Jazz", "House", "Hip-Hop", "Funk", "Soul", "Reggae", "Bass Music", "Blues", "Pop",
               "Electronica"),
    "East Asia": ("Pop", "Rock", "Hip-Hop", "Techno", "House", "Jazz", "Electronica", "Ambient", "Experimental",
                  "Synth & Wave", "Soul", "Disco"),
    "Southeast Asia": ("Pop", "Rock", "Hip-Hop", "Techno", "House", "Trance", "Jazz", "Electronica", "Folk",
                       "Experimental", "Disco"),
    "Middle East": ("Pop", "Rock", "Electronica", "Techno", "House", "Jazz", "Hip-Hop", "Experimental", "Disco",
                    "Folk", "Downtempo"),
    "Eastern Europe": ("Techno", "House", "Electro", "Trance", "Rock", "Pop", "Jazz", "Hip-Hop", "Synth & Wave",
                       "Ambient", "Experimental", "Drum & Bass", "Hardcore", "Folk", "Electronica", "Disco"),
}

# ------------------------------------------------------------------------------------------ words
# More names for the artists and labels of a large catalogue (appended to the base lists).
EXTRA_FIRST_NAMES = (
    "Abigail", "Adele", "Agnes", "Ahmed", "Akira", "Alba", "Aldo", "Alejandro", "Alexei", "Alma", "Amadou", "Ana",
    "Anders", "Angelo", "Anouk", "Anton", "Ari", "Arturo", "Asha", "August", "Aurora", "Axel", "Baba", "Beatriz",
    "Benny", "Bernard", "Billie", "Bjorn", "Bruno", "Caleb", "Camille", "Carlos", "Celeste", "Chidi", "Chloe",
    "Cleo", "Colin", "Cosmo", "Dalia", "Damon", "Daniel", "Daphne", "Darius", "Dexter", "Diego", "Dina", "Dorian",
    "Duke", "Edith", "Elif", "Elliot", "Emil", "Enzo", "Erik", "Esme", "Etta", "Ezra", "Fabio", "Farah", "Fela",
    "Fernando", "Finn", "Flora", "Freya", "Gabriel", "Gaspar", "Gideon", "Gloria", "Goran", "Gustav", "Hannah",
    "Harper", "Hassan", "Helena", "Henrik", "Hugo", "Ida", "Ilya", "Imani", "Iris", "Isaac", "Jack", "Jan", "Javier",
    "Jean", "Joan", "Johanna", "Jules", "Junior", "Kaito", "Kamal", "Karim", "Kasia", "Kenzo", "Kim", "Kira", "Lars",
    "Layla", "Leila", "Leo", "Lionel", "Lorenzo", "Lucia", "Ludo", "Luis", "Lydia", "Magnus", "Malik", "Mamadou",
    "Manu", "Marek", "Margot", "Mariam", "Marlon", "Mason", "Matilda", "Max", "Mei", "Mika", "Milo", "Mina", "Minh",
    "Momo", "Nadine", "Naomi", "Nils", "Noah", "Nora", "Odile", "Olga", "Olivia", "Oren", "Otis", "Paloma", "Pedro",
    "Petra", "Pia", "Priya", "Rafa", "Rania", "Remy", "Rex", "Rico", "Rita", "Roman", "Rosie", "Roy", "Sacha",
    "Santiago", "Selma", "Seun", "Simone", "Sol", "Stella", "Suki", "Tamar", "Tatiana", "Teo", "Tessa", "Tobias",
    "Tove", "Ulla", "Valentin", "Vanessa", "Vic", "Viola", "Wes", "Willa", "Xavier", "Yannick", "Yoko", "Yuri",
    "Zainab", "Zara", "Zeke", "Ziggy",
)
EXTRA_LAST_NAMES = (
    "Achterberg", "Adams", "Agbaje", "Almeida", "Amari", "Andersson", "Arslan", "Asante", "Bakker", "Balogun",
    "Barnes", "Bauer", "Beltran", "Bennett", "Bianchi", "Bjork", "Boateng", "Bonnet", "Botha", "Campbell", "Carvalho",
    "Chen", "Clarke", "Coleman", "Conti", "Cooper", "Dacosta", "Delgado", "Dimitrov", "Dlamini", "Doyle", "Eriksen",
    "Esposito", "Farrow", "Fernandes", "Fitzgerald", "Flores", "Forde", "Gallo", "Gomez", "Gordon", "Greco", "Gunn",
    "Guzman", "Hart", "Hernandez", "Herrera", "Hoffmann", "Holmes", "Horvat", "Hughes", "Ibrahim", "Ivanov", "Jansen",
    "Jimenez", "Kaur", "Kelly", "Khan", "Kovac", "Kowalski", "Kruger", "Lambert", "Laurent", "Lee", "Lima", "Lund",
    "Maalouf", "Machado", "Mahlangu", "Marino", "Martins", "Mbeki", "Medina", "Mercer", "Miranda", "Mitchell",
    "Molina", "Monroe", "Morales", "Muller", "Murphy", "Ndiaye", "Nguyen", "Nowak", "Nunez", "Obi", "O'Brien",
    "Ogawa", "Okonkwo", "Olsen", "Ortiz", "Ozturk", "Palmer", "Pereira", "Perez", "Peters", "Phillips", "Pinto",
    "Popescu", "Quintero", "Ramirez", "Ramos", "Reid", "Ribeiro", "Richter", "Rocha", "Rojas", "Ross", "Russo",
    "Salazar", "Sanchez", "Sandoval", "Sarr", "Schneider", "Shapiro", "Shaw", "Singh", "Sousa", "Stewart", "Sullivan",
    "Svensson", "Takahashi", "Tan", "Toure", "Traore", "Vasquez", "Vega", "Verhoeven", "Vidal", "Volkov", "Wagner",
    "Wallace", "Wang", "Watanabe", "Wilson", "Wright", "Yamamoto", "Yilmaz", "Zhang", "Zuniga",
)
EXTRA_STAGE_WORDS = (
    "Acme", "Aeon", "Altair", "Ambit", "Anode", "Aphelion", "Arcadia", "Astra", "Atoll", "Aurora", "Azimuth",
    "Beacon", "Bismuth", "Blaze", "Boreal", "Caldera", "Carbon", "Castor", "Chasm", "Citadel", "Cobra", "Corona",
    "Cypher", "Dervish", "Drift", "Dusk", "Eidolon", "Element", "Equinox", "Fathom", "Flare", "Forge", "Fractal",
    "Gallium", "Glacier", "Gravity", "Harbinger", "Horizon", "Hydra", "Indigo", "Inertia", "Kelvin", "Kestrel",
    "Labyrinth", "Lattice", "Legion", "Lithium", "Locus", "Mantra", "Mercury", "Monolith", "Myriad", "Neon", "Neutron",
    "Nomad", "Obelisk", "Octave", "Orbital", "Osmium", "Paragon", "Phoenix", "Photon", "Pilot", "Plasma", "Polaris",
    "Proxima", "Pulsar", "Quantum", "Radian", "Ravine", "Reactor", "Rift", "Sable", "Scarab", "Sentinel", "Sierra",
    "Silica", "Solstice", "Spectre", "Sphinx", "Stasis", "Synapse", "Talon", "Tempest", "Thorium", "Titan", "Torque",
    "Tundra", "Uranium", "Valence", "Vapor", "Velocity", "Venom", "Vesper", "Volt", "Warden", "Zodiac",
)
EXTRA_ADJECTIVES = (
    "Amber", "Ashen", "Bitter", "Bright", "Burnt", "Crimson", "Dim", "Drowned", "Eastern", "Emerald", "Ethereal",
    "Feral", "Fragile", "Gilded", "Grey", "Heavy", "Icy", "Ivory", "Jagged", "Kind", "Lucid", "Molten", "Muted",
    "Naked", "Nocturnal", "Ochre", "Pure", "Rapid", "Raw", "Rusted", "Sacred", "Scarlet", "Sleepless", "Smoky",
    "Sonic", "Stark", "Sullen", "Thin", "Tropical", "Vacant", "Western", "Wicked", "Woven", "Yellow", "Zero",
)
EXTRA_NOUNS = (
    "Anthem", "Arcade", "Aria", "Arrow", "Aurora", "Bay", "Bloom", "Border", "Breeze", "Cascade", "Chamber", "Chorus",
    "Coast", "Compass", "Crown", "Dune", "Dynasty", "Ember", "Empire", "Estate", "Fable", "Falcon", "Fjord", "Fog",
    "Galaxy", "Gate", "Glacier", "Hallway", "Haze", "Hymn", "Jewel", "Lantern", "Legend", "Lotus", "Marble", "Meadow",
    "Mist", "Monument", "Nectar", "Oasis", "Palace", "Parade", "Pearl", "Pilgrim", "Planet", "Plaza", "Quarry",
    "Radio", "Reef", "Riot", "Saga", "Savanna", "Serpent", "Shore", "Siren", "Spark", "Steeple", "Summit", "Swan",
    "Thicket", "Throne", "Torch", "Tribe", "Tundra", "Twilight", "Velvet", "Vine", "Volcano", "Warehouse", "Wilderness",
)
