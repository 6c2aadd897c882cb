"""Hand-written off-topic speech for the recognisers' garbage model (data only, kept out of `grammar`).

An n-gram model only decodes what it has seen. With thousands of knee phrasings and a handful of other
sentences, "i need to call ..." and "please tell my bank ..." came out as "knee ..." and "knees ...":
the chatter below gives everyday carrier phrases ("i need to", "do i need", "can you tell me", "please",
"how do i") and gym small talk a path of their own. Written for this project (nothing copied from the
CLINC150 benchmark set); every word must be in PocketSphinx's cmudict or the sentence is dropped.
"""

SENTENCES: tuple[str, ...] = tuple(
    line.strip()
    for line in """
    will it be sunny this weekend
    what time is it
    play some music
    turn up the music
    set a timer for ten minutes
    call my mom
    send an email to my boss
    how much money is in my bank account
    remind me to buy water
    tell me a joke
    what is your name
    book a flight to new york
    is it going to rain today
    my shoulder is sore after pressing
    my back hurts after rows
    my neck is sore
    my elbow hurts when i curl
    my wrist hurts on bench press
    where is the water
    can you hear me
    how long is the drive home
    what's on the news
    order a pizza for dinner
    i need to go to work
    good morning how are you
    i need to call my brother
    i need to pay my phone bill
    i need to buy some milk
    i need to find a hotel
    i need to change my password
    i need to cancel my order
    i need a ride to the airport
    i need a new credit card
    i need help with my car
    i need to book a table for two
    i need to send a text to my wife
    i need to pick up my kids
    i need to renew my passport
    i need to get gas
    i need some new shoes
    do i need a visa for mexico
    do i need an umbrella today
    do i need to bring a jacket
    do i need to pay for parking
    do i have any meetings today
    do i have enough money for a new phone
    do you know a good place to eat
    do you like dogs
    can you tell me the time
    can you tell me a story
    can you tell me how to get to the station
    can you tell me my balance
    can you play my favorite song
    can you call a taxi for me
    can you find a cheap flight
    can you read my messages
    can you turn off the lights
    can you set an alarm for six
    can you help me with my homework
    can you spell that for me
    can you translate hello into french
    please tell my bank i am traveling
    please tell my wife i will be late
    please send a message to my sister
    please add eggs to my shopping list
    please cancel my meeting
    please turn on the lights
    please call the doctor
    please lock the front door
    please book a room for tonight
    please pay my electric bill
    please remind me about the party
    please read the news
    how do i get to the airport
    how do i reset my phone
    how do i make pancakes
    how do i cook rice
    how do i change a tire
    how do i open an account
    how do i transfer money
    how do i get a new card
    how do i say thank you in spanish
    how do you spell restaurant
    how much is a ticket to chicago
    how heavy is this bar
    how much gas is in my car
    how much do i owe on my card
    how many days until christmas
    how many miles is it to boston
    how far is the store
    how old are you
    how is the traffic this morning
    how was your day
    what is my balance
    what is my credit score
    what is my schedule for tomorrow
    what is the weather like
    what is the capital of france
    what is the date today
    what is the best pizza place
    what is on my calendar
    what is the meaning of life
    what are you doing
    what should i cook for dinner
    what should i watch tonight
    what's the score of the game
    what's the exchange rate for the euro
    what's the best way to the beach
    what day is it
    i would like to order a coffee
    i would like to book a hotel room
    i would like to speak to a person
    i would like to pay my rent
    i would like to change my address
    i would like a glass of water
    i want to watch a movie
    i want to go home
    i want to buy a new car
    i want to learn a new language
    i want to travel to japan
    i'm looking for a good restaurant
    i'm hungry
    i'm tired
    i lost my wallet
    i lost my keys
    i forgot my password
    i think my card was stolen
    is there a bank near me
    is there a gas station nearby
    is there a pharmacy open now
    is there any coffee left
    is it cold outside
    is my flight on time
    is the store open on sunday
    are you a robot
    are you using this bench
    are you done with this machine
    can i work in with you
    can i use these dumbbells
    can i borrow your chalk
    how many sets do you have left
    where are the towels
    where is the locker room
    where can i find the plates
    is this seat taken
    the gym is busy today
    that music is too loud
    i really like this band
    nice to meet you
    thank you very much
    see you tomorrow
    have a nice day
    who are you
    who made you
    who is the president
    who is playing tonight
    who sings this song
    where do you live
    where is the nearest hospital
    where did i park my car
    when is my next appointment
    when does the bank open
    when is my mom's birthday
    why is the sky blue
    why is my phone so slow
    which movie should i see
    tell me about the weather
    tell me the news
    tell me something funny
    tell my sister i love her
    text my dad that i am on my way
    give me directions to the mall
    find me a recipe for soup
    find my phone
    show me my photos
    start a new playlist
    stop the music
    turn the volume down
    make a reservation for dinner
    let me know when my package arrives
    transfer fifty dollars to my savings
    pay the water bill
    check my email
    read my last message
    add milk to the list
    schedule a meeting with john
    put gas on my shopping list
    what's the weather going to be this week
    should i bring an umbrella
    how many calories are in an apple
    how much protein is in an egg
    what should i eat before a workout
    what time does the gym close
    how long should i rest between sets
    what's the door code
    my phone is dead
    my car won't start
    my flight was cancelled
    my credit card was declined
    my order never came
    my package is late
    my computer is broken
    """.strip().splitlines()
)
